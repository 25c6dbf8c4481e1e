"""RongMail's outbound queue delivering to a real Postfix, with real DNS (Knot), MTA-STS over
real HTTPS, and the SPF/DKIM/DMARC verdicts checked on what Postfix stored.

The verdicts are computed by RongMail's own :class:`MailAuthenticator`, but over the network
against the Knot server, on the bytes Postfix wrote to its Maildir and with the client address
Postfix logged: everything between the two sides is real.
"""

from __future__ import annotations

import email
import re
import time

import pytest
from topology import POSTFIX_IP, ROUTE_IP, SENDER_IP, SPOOF_IP

from rongmail.actions import accounts as acc
from rongmail.actions import queue as qa
from rongmail.config.queue import QueueSettings
from rongmail.queue import build_scheduler
from rongmail.services.dns import DnsResolver
from rongmail.services.mailauth import Disposition, DkimSigner, MailAuthenticator, SpfResult
from rongmail.store.sql import queue as qs

pytestmark = pytest.mark.peer


def message(sender: str, rcpt: str, subject: str) -> bytes:
    return (
        f"From: Zhang San <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
        f"Date: Fri, 27 Nov 2026 10:00:00 +0800\r\nMessage-ID: <{time.time_ns()}@rong.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "您好，这是一封测试邮件。Hello from RongMail.\r\n"
    ).encode()


async def setup(stack, knot, postfix, test_ca, *, source_ip: str = SENDER_IP):  # type: ignore[no-untyped-def]
    tenant = await acc.do_create_tenant(stack.ctx, "rong")
    await acc.do_create_domain(stack.ctx, tenant.id, "rong.test")
    sender = await acc.do_create_account(stack.ctx, "zhangsan@rong.test", "Secret-pass-123")
    resolver = DnsResolver.from_settings([knot.address], port=knot.port, timeout=3)
    settings = QueueSettings.model_validate({
        "remote_port": postfix.port, "source_ip": source_ip, "helo_name": "mx.rong.test",
        "tls_ca_file": str(test_ca.ca_file), "connect_timeout": 10, "command_timeout": 30,
        "routes": [{"name": "hk", "match": ["far.test"], "host": POSTFIX_IP,
                    "port": postfix.port, "tls": "opportunistic", "source_ip": ROUTE_IP}],
    })  # fmt: skip
    scheduler = build_scheduler(stack.ctx, resolver, settings, hostname="mx.rong.test")
    return tenant, sender, resolver, scheduler


def client_ip_in_log(log: str, queue_hint: str) -> list[str]:
    return re.findall(r"client=\S+\[([\d.]+)\]", log)


async def send(stack, tenant, scheduler, raw: bytes, rcpt: str, prepend: bytes = b"",  # type: ignore[no-untyped-def]
               mail_from: str = "zhangsan@rong.test") -> int:  # fmt: skip
    qid = await qa.do_enqueue_message(
        stack.ctx, tenant_id=tenant.id, raw=raw, mail_from=mail_from,
        recipients=[qa.EnvelopeRecipient(rcpt)], prepend=prepend, body_8bit=True,
    )  # fmt: skip
    await scheduler.drain()
    return qid


async def verify(resolver: DnsResolver, stored: bytes, ip: str):  # type: ignore[no-untyped-def]
    msg = email.message_from_bytes(stored)
    mail_from = (msg["Return-Path"] or "").strip("<>")
    auth = MailAuthenticator(resolver, authserv_id="mx.peer.test")
    return await auth.check(stored.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"),
                            ip=ip, helo="mx.rong.test", mail_from=mail_from)  # fmt: skip


async def test_signed_mail_passes_spf_dkim_dmarc_over_verified_tls(  # type: ignore[no-untyped-def]
    stack, knot, postfix, test_ca, sts_host, dkim_keys
) -> None:
    tenant, _sender, resolver, scheduler = await setup(stack, knot, postfix, test_ca)
    before = len(postfix.messages("bob@peer.test"))
    raw = message("zhangsan@rong.test", "bob@peer.test", "signed")
    signer = DkimSigner({"rong.test": [k.key for k in dkim_keys]})
    signatures = (await signer.sign(raw, "rong.test"))[: -len(raw)]
    await send(stack, tenant, scheduler, raw, "bob@peer.test", prepend=signatures)
    stored = postfix.wait_for_mail("bob@peer.test", before + 1)[-1]
    log = postfix.log_text()
    assert f"[{SENDER_IP}]" in log  # our per-queue source address was used
    # MTA-STS enforce for peer.test: STARTTLS with a certificate verified against the test CA.
    assert re.search(r"TLS connection established from \S+\[127\.0\.0\.20\]", log), log[-2000:]
    v = await verify(resolver, stored, SENDER_IP)
    assert v.spf.result is SpfResult.PASS
    assert sorted((d.algorithm, d.result) for d in v.dkim) == [
        ("ed25519-sha256", "pass"), ("rsa-sha256", "pass")]  # fmt: skip
    assert v.dmarc.result == "pass" and v.disposition is Disposition.ACCEPT
    assert "dmarc=pass" in v.header and "header.from=rong.test" in v.header


async def test_spoofed_mail_fails_dmarc_reject(  # type: ignore[no-untyped-def]
    stack, knot, postfix, test_ca, sts_host
) -> None:
    tenant, _s, resolver, scheduler = await setup(stack, knot, postfix, test_ca, source_ip=SPOOF_IP)
    before = len(postfix.messages("alice@peer.test"))
    await send(stack, tenant, scheduler, message("ceo@rong.test", "alice@peer.test", "wire now"),
               "alice@peer.test", mail_from="ceo@rong.test")  # fmt: skip
    stored = postfix.wait_for_mail("alice@peer.test", before + 1)[-1]
    assert f"[{SPOOF_IP}]" in postfix.log_text()
    v = await verify(resolver, stored, SPOOF_IP)
    assert v.spf.result is SpfResult.FAIL and v.dkim == ()
    assert v.dmarc.result == "fail" and v.disposition is Disposition.REJECT


async def test_mta_sts_mismatch_defers_and_null_mx_bounces(  # type: ignore[no-untyped-def]
    stack, knot, postfix, test_ca, sts_host
) -> None:
    tenant, sender, _r, scheduler = await setup(stack, knot, postfix, test_ca)
    qid = await send(stack, tenant, scheduler, message("zhangsan@rong.test", "carol@strict.test",
                                                       "sts"), "carol@strict.test")  # fmt: skip
    [r] = await stack.ctx.meta.read(qs.recipients_of(qid))
    assert (r.state, r.last_status) == ("deferred", "4.7.5"), r
    assert postfix.messages("carol@strict.test") == []
    qid2 = await send(stack, tenant, scheduler, message("zhangsan@rong.test", "x@null.test", "n"),
                      "x@null.test")  # fmt: skip
    assert await stack.ctx.meta.read(qs.get_message(qid2)) is None  # failed, bounced, purged
    inbox = await stack.reader.mailbox_by_role(sender.id, "inbox")
    [bounce] = await stack.reader.mailbox_entries(inbox.id)
    [m] = await stack.reader.messages(sender.id, [bounce.message_id])
    body = await stack.ctx.blobs.get(tenant.id, m.blob_id)
    assert b"Status: 5.1.10" in body and b"Final-Recipient: rfc822; x@null.test" in body


async def test_smart_host_route_with_source_ip(  # type: ignore[no-untyped-def]
    stack, knot, postfix, test_ca
) -> None:
    tenant, _s, _r, scheduler = await setup(stack, knot, postfix, test_ca)
    before = len(postfix.messages("bob@far.test"))
    await send(stack, tenant, scheduler, message("zhangsan@rong.test", "bob@far.test", "route"),
               "bob@far.test")  # fmt: skip
    postfix.wait_for_mail("bob@far.test", before + 1)
    assert f"[{ROUTE_IP}]" in postfix.log_text()


async def test_dane_pins_postfix_key_and_refuses_a_mismatch(  # type: ignore[no-untyped-def]
    stack, knot, validator, postfix, test_ca
) -> None:
    tenant, _s, _r, _sched = await setup(stack, knot, postfix, test_ca)
    resolver = DnsResolver.from_settings([validator.address], port=validator.port, timeout=3)
    assert (await resolver.mx("dane.test")).secure  # AD bit from the validating resolver
    settings = QueueSettings.model_validate({
        "remote_port": postfix.port, "source_ip": SENDER_IP, "helo_name": "mx.rong.test",
        "mta_sts": False, "connect_timeout": 10, "command_timeout": 30,
    })  # fmt: skip
    scheduler = build_scheduler(stack.ctx, resolver, settings, hostname="mx.rong.test")
    before = len(postfix.messages("bob@dane.test"))
    await send(stack, tenant, scheduler, message("zhangsan@rong.test", "bob@dane.test", "dane"),
               "bob@dane.test")  # fmt: skip
    postfix.wait_for_mail("bob@dane.test", before + 1)
    qid = await send(stack, tenant, scheduler,
                     message("zhangsan@rong.test", "bob@danebad.test", "mitm"), "bob@danebad.test")  # fmt: skip
    [r] = await stack.ctx.meta.read(qs.recipients_of(qid))
    assert r.state == "deferred" and r.last_status == "4.7.5", r
    assert "TLSA" in (r.last_reply or "")
    assert postfix.messages("bob@danebad.test") == []
