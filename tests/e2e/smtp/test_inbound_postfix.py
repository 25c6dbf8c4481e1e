"""Postfix relays to RongMail's inbound SMTP (MX) and the mailauth verdicts are recorded.

Skips until the composition root starts an SMTP listener (``app.start_listeners`` with
``listeners.smtp``) and the settings carry the queue/DNS section; then it runs for real:
swaks -> Postfix (smtp_bind_address 127.0.0.30, authorised by peer.test's SPF) ->
RongMail on 127.0.0.40 -> the recipient's Inbox with an Authentication-Results header.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from topology import POSTFIX_IP

from peers import PeerUnavailable, skip_or_fail
from peers.dns_server import free_port
from peers.postfix import PostfixServer

pytestmark = pytest.mark.peer

RONG_IP = "127.0.0.40"


async def test_postfix_relays_to_rongmail(tmp_path, knot) -> None:  # type: ignore[no-untyped-def]
    from rongmail import app as app_mod
    from rongmail.config.settings import Settings

    if "queue" not in Settings.model_fields:
        pytest.skip("Settings has no queue section yet (DNS resolvers for inbound mailauth)")
    port = free_port(RONG_IP)
    settings = Settings.model_validate({
        "server": {"hostname": "mx.rong.test"},
        "listeners": {"smtp": f"{RONG_IP}:{port}", "submission": "", "submissions": "",
                      "imap": "", "imaps": "", "pop3": "", "pop3s": "", "http": ""},
        "queue": {"dns": {"nameservers": [knot.address], "port": knot.port}},
    })  # fmt: skip
    app = await app_mod.open_app(tmp_path, settings, create_keys=True)
    try:
        lines = await app_mod.start_listeners(app)
        if not any(line.startswith("smtp ") for line in lines):
            pytest.skip("app.start_listeners does not start the inbound SMTP listener yet")
        from rongmail.actions import accounts as acc

        tenant = await acc.do_create_tenant(app.ctx, "rong")
        await acc.do_create_domain(app.ctx, tenant.id, "rong.test")
        lisi = await acc.do_create_account(app.ctx, "lisi@rong.test", "Secret-pass-123")
        relay = PostfixServer(
            address="127.0.0.41", hostname="relay.peer.test", domains=("relay.test",),
            relayhost=f"[{RONG_IP}]:{port}", smtp_bind_address=POSTFIX_IP,
        )  # fmt: skip
        try:
            relay.start()
        except PeerUnavailable as e:
            skip_or_fail(str(e))
        try:
            swaks = shutil.which("swaks")
            if swaks is None:
                skip_or_fail("swaks not installed")
            proc = await asyncio.to_thread(
                subprocess.run,
                [swaks, "--server", f"127.0.0.41:{relay.port}", "--from", "bob@peer.test",
                 "--to", "lisi@rong.test", "--header", "Subject: via postfix",
                 "--header", "From: Bob <bob@peer.test>"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout[-1500:]
            inbox = await app.reader.mailbox_by_role(lisi.id, "inbox")
            for _ in range(200):
                entries = await app.reader.mailbox_entries(inbox.id)
                if entries:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"not delivered; postfix log:\n{relay.log_text()[-2000:]}")
            [m] = await app.reader.messages(lisi.id, [entries[0].message_id])
            raw = await app.ctx.blobs.get(tenant.id, m.blob_id)
            assert b"via postfix" in raw
            if b"Authentication-Results:" in raw:
                assert b"spf=pass" in raw and b"dmarc=pass" in raw
        finally:
            relay.stop()
    finally:
        await app.close()
