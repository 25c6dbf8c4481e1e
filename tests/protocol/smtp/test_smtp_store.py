"""SMTP on the real storage stack (SQLite; PostgreSQL when reachable): directory resolution,
AUTH, durable local delivery through ``actions``, Junk, the outbound queue, relay denial."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from pathlib import Path
from typing import Any

import pytest

from rongmail.actions import accounts as acc
from rongmail.config.smtp import SmtpSettings
from rongmail.errors import AuthError, RateLimited
from rongmail.pipeline.authenticator import SmtpAuthenticator
from rongmail.pipeline.delivery import ActionDelivery
from rongmail.pipeline.directory import StoreDirectory
from rongmail.pipeline.envelope import Envelope, RecipientKind
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stage import Action, Checkpoint, Reason, Verdict
from rongmail.pipeline.stages import default_stages
from rongmail.protocols.smtp.server import start_smtp, tls_context
from rongmail.protocols.smtp.session import SmtpServices
from rongmail.services.auth.authenticate import Authenticator, ThrottlePolicy
from rongmail.store.sql import directory as d
from rongmail.store.sql import queue as qs

PW = "Correct-horse-42"
SUB_MSG = b"From: =?utf-8?b?54ix5Li9?= <alice+news@acme.test>\r\nSubject: s\r\n\r\nhi\r\n"
MSG = b"From: x@remote.example\r\nTo: alice@acme.test\r\nSubject: hi\r\n\r\nhello\r\n"


async def populate(stack: Any) -> dict[str, int]:
    ctx = stack.ctx
    t = await acc.do_create_tenant(ctx, "acme")
    await acc.do_create_domain(ctx, t.id, "acme.test")
    await acc.do_create_domain(ctx, t.id, "acme-alias.test", alias_of="acme.test")
    other = await acc.do_create_domain(ctx, t.id, "other.test")
    alice = await acc.do_create_account(ctx, "alice@acme.test", PW)
    bob = await acc.do_create_account(ctx, "bob@acme.test", PW)
    await acc.do_create_account(ctx, "carol@other.test", PW)
    gone = await acc.do_create_account(ctx, "gone@acme.test", PW)
    await acc.do_disable_account(ctx, gone.address)
    await acc.do_create_alias(
        ctx, "sales@acme.test", ["alice@acme.test", "bob@acme.test"], kind="group"
    )
    await acc.do_create_alias(ctx, "fwd@acme.test", ["bob@acme.test", "ext@remote.example"])
    await ctx.meta.write(d.set_catch_all(other.id, "carol@other.test"))
    return {"alice": alice.id, "bob": bob.id}


async def test_directory_resolution(stack: Any) -> None:
    ids = await populate(stack)
    directory = StoreDirectory(stack.reader, primary_domain="acme.test")
    cases = {
        "alice@acme.test": (RecipientKind.LOCAL, (ids["alice"],)),
        "Alice+news@ACME.test": (RecipientKind.LOCAL, (ids["alice"],)),
        "alice@acme-alias.test": (RecipientKind.LOCAL, (ids["alice"],)),
        "sales@acme.test": (RecipientKind.LOCAL, (ids["alice"], ids["bob"])),
        "nobody@acme.test": (RecipientKind.UNKNOWN, ()),
        "gone@acme.test": (RecipientKind.DISABLED, ()),
        "x@remote.example": (RecipientKind.REMOTE, ()),
        "x@[192.0.2.1]": (RecipientKind.REMOTE, ()),
        "postmaster": (RecipientKind.UNKNOWN, ()),  # no postmaster@acme.test account
    }
    for address, (kind, accounts) in cases.items():
        r = await directory.resolve(address)
        assert (r.kind, r.account_ids) == (kind, accounts), address
    await acc.do_create_alias(stack.ctx, "postmaster@acme.test", ["alice@acme.test"])
    assert (await StoreDirectory(stack.reader).resolve("Postmaster")).account_ids == (ids["alice"],)
    catch = await directory.resolve("anything@other.test")
    assert catch.kind is RecipientKind.LOCAL and len(catch.account_ids) == 1
    fwd = await directory.resolve("fwd@acme.test")
    assert fwd.account_ids == (ids["bob"],) and fwd.external == ("ext@remote.example",)


async def test_may_send_as(stack: Any) -> None:
    await populate(stack)
    directory = StoreDirectory(stack.reader)
    auth = SmtpAuthenticator(Authenticator(stack.reader))
    alice = await auth.authenticate("alice@acme.test", PW, authzid="", remote_ip="192.0.2.1")
    for ok in ("alice@acme.test", "ALICE+x@acme.test", "alice@acme-alias.test", "sales@acme.test"):
        assert await directory.may_send_as(alice, ok), ok
    for bad in ("bob@acme.test", "alice@remote.example", "fwdx@acme.test", "carol@other.test"):
        assert not await directory.may_send_as(alice, bad), bad


async def test_authenticator_lockout_and_authzid(stack: Any) -> None:
    await populate(stack)
    auth = SmtpAuthenticator(Authenticator(stack.reader, ThrottlePolicy(lock_after=2)))
    for _ in range(2):
        with pytest.raises(AuthError):
            await auth.authenticate("alice@acme.test", "wrong", authzid="", remote_ip="192.0.2.9")
    with pytest.raises(RateLimited):  # locked even with the right password
        await auth.authenticate("alice@acme.test", PW, authzid="", remote_ip="192.0.2.9")
    ok = await auth.authenticate("alice@acme.test", PW, authzid="", remote_ip="192.0.2.10")
    assert ok.address == "alice@acme.test" and ok.username == "alice@acme.test"
    same = await auth.authenticate(
        "alice@acme.test", PW, authzid="Alice@acme.test", remote_ip="192.0.2.10"
    )
    assert same.account_id == ok.account_id
    with pytest.raises(AuthError):  # no acting as someone else
        await auth.authenticate(
            "alice@acme.test", PW, authzid="bob@acme.test", remote_ip="192.0.2.10"
        )
    for user in ("gone@acme.test", "nobody@acme.test"):
        with pytest.raises(AuthError):
            await auth.authenticate(user, PW, authzid="", remote_ip="192.0.2.11")


class JunkIfSubjectSpam:
    """A DATA stage like the spam stage other engineers add: tags, never rejects."""

    name = "test_spam"
    checkpoints = frozenset({Checkpoint.DATA})

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if b"Subject: SPAM" in (env.message or b""):
            return Verdict(
                Action.JUNK, (Reason(self.name, "spam.high"),), (("X-Spam-Test", "yes"),)
            )
        return Verdict(headers=(("Authentication-Results", "mx.acme.test; none"),))


async def start(stack: Any, cert_files: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    settings = SmtpSettings(auth_failure_delay=0)
    directory = StoreDirectory(stack.reader, primary_domain="acme.test")
    runner = Runner(
        default_stages(
            settings, directory, hostname="mx.acme.test", data_stages=[JunkIfSubjectSpam()]
        )
    )
    services = SmtpServices(
        runner,
        directory,
        ActionDelivery(stack.ctx, stack.reader),
        SmtpAuthenticator(Authenticator(stack.reader)),
    )
    return await start_smtp(
        settings=settings,
        services=services,
        hostname="mx.acme.test",
        listeners={"smtp": ("127.0.0.1", 0), "submissions": ("127.0.0.1", 0)},
        tls=tls_context(str(cert_files[0]), str(cert_files[1])),
    )


async def inbox_messages(stack: Any, account_id: int, role: str = "inbox") -> list[bytes]:
    mb = await stack.reader.mailbox_by_role(account_id, role)
    entries = await stack.reader.mailbox_entries(mb.id)
    msgs = await stack.reader.messages(account_id, [e.message_id for e in entries])
    acct = await stack.reader.account(account_id)
    return [await stack.reader.message_bytes(acct.tenant_id, m.blob_id) for m in msgs]


async def test_inbound_local_delivery(stack: Any, cert_files: tuple[Path, Path]) -> None:
    ids = await populate(stack)
    server = await start(stack, cert_files)
    host, port = server.addresses["smtp"]

    def run() -> None:
        with smtplib.SMTP(host, port, local_hostname="mail.remote.example") as c:
            c.sendmail("x@remote.example", ["alice+tag@acme.test", "sales@acme.test"], MSG)
            c.sendmail("x@remote.example", ["bob@acme.test"], MSG.replace(b"hi", b"SPAM"))
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail("x@remote.example", ["nobody@acme.test"], MSG)
            assert e.value.recipients["nobody@acme.test"][:2] == (550, b"5.1.1 No such user here")
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                c.sendmail("alice@acme.test", ["victim@remote.example"], MSG)

    try:
        await asyncio.to_thread(run)
    finally:
        await server.aclose()
    alice = await inbox_messages(stack, ids["alice"])
    bob = await inbox_messages(stack, ids["bob"])
    bob_junk = await inbox_messages(stack, ids["bob"], "junk")
    assert len(alice) == 1 and len(bob) == 1 and len(bob_junk) == 1  # one copy per account
    assert alice[0].startswith(b"Received: from mail.remote.example ([127.0.0.1])")
    assert b"Authentication-Results: mx.acme.test; none\r\n" in alice[0]
    assert alice[0].endswith(MSG)
    assert b"X-Spam-Test: yes" in bob_junk[0]
    assert not await stack.ctx.meta.read(qs.list_messages())


async def test_submission_relays_through_queue(stack: Any, cert_files: tuple[Path, Path]) -> None:
    ids = await populate(stack)
    server = await start(stack, cert_files)
    host, port = server.addresses["submissions"]
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE

    def run() -> None:
        with smtplib.SMTP_SSL(host, port, context=tls) as c:
            c.login("alice@acme.test", PW)
            c.sendmail(
                "alice@acme.test",
                ["friend@remote.example", "bob@acme.test"],
                SUB_MSG,
                rcpt_options=["NOTIFY=FAILURE,DELAY"],
            )
            with pytest.raises(smtplib.SMTPSenderRefused):
                c.sendmail("bob@acme.test", ["friend@remote.example"], SUB_MSG)

    try:
        await asyncio.to_thread(run)
    finally:
        await server.aclose()
    (summary,) = await stack.ctx.meta.read(qs.list_messages())
    rcpts = await stack.ctx.meta.read(qs.recipients_of(summary.message.id))
    assert sorted(r.rcpt for r in rcpts) == ["bob@acme.test", "friend@remote.example"]
    assert {r.notify for r in rcpts} == {"DELAY,FAILURE"}
    queued = summary.message
    assert queued.mail_from == "alice@acme.test" and queued.account_id == ids["alice"]
    assert queued.prepend.startswith(b"Received: from ") and b"ESMTPSA" in queued.prepend
    assert b"\r\nDate: " in queued.prepend and b"\r\nMessage-ID: <" in queued.prepend  # RFC 6409 §8
    assert not await inbox_messages(stack, ids["bob"]), "bob gets it from the queue, not twice"
