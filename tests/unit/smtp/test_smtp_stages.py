"""Built-in pipeline stages and the runner (DESIGN.md house rule 6)."""

from __future__ import annotations

from datetime import UTC, datetime

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import (
    AuthIdentity,
    Client,
    Envelope,
    Listener,
    Recipient,
    RecipientKind,
    Resolution,
)
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stage import Action, Checkpoint, Reason, Verdict
from rongmail.pipeline.stages.rate_limit import RateLimitStage, SlidingWindow
from rongmail.pipeline.stages.recipient import RecipientStage
from rongmail.pipeline.stages.size import SizeStage
from rongmail.pipeline.stages.submission import SubmissionStage, from_addresses, header_names

CLIENT = Client(ip="203.0.113.5", port=1, listener=Listener.MX)
ME = AuthIdentity(1, 1, "a@example.com", "a@example.com")


def rcpt(kind: RecipientKind) -> Recipient:
    return Recipient("x@remote.example", Resolution(kind))


async def test_recipient_stage_relay_rules() -> None:
    stage = RecipientStage(SmtpSettings(relay_networks=("203.0.113.0/24",)))
    env = Envelope(client=CLIENT, candidate=rcpt(RecipientKind.REMOTE))
    assert (await stage.check(Checkpoint.RCPT, env)).action is Action.ACCEPT
    closed = RecipientStage(SmtpSettings())
    v = await closed.check(Checkpoint.RCPT, env)
    assert v.action is Action.REJECT and v.primary == Reason(
        "recipient", "relay.denied", "x@remote.example"
    )
    authed = Envelope(client=CLIENT, auth=ME, candidate=rcpt(RecipientKind.REMOTE))
    assert (await closed.check(Checkpoint.RCPT, authed)).action is Action.ACCEPT
    unknown = Envelope(client=CLIENT, auth=ME, candidate=rcpt(RecipientKind.UNKNOWN))
    assert (await closed.check(Checkpoint.RCPT, unknown)).primary.code == "recipient.unknown"  # type: ignore[union-attr]


async def test_size_stage() -> None:
    stage = SizeStage(SmtpSettings(max_message_size=2000))
    big = Envelope(client=CLIENT, declared_size=2001)
    assert (await stage.check(Checkpoint.MAIL, big)).refused
    assert not (await stage.check(Checkpoint.DATA, Envelope(client=CLIENT, message=b"x"))).refused


def test_sliding_window() -> None:
    now = [0.0]
    w = SlidingWindow(2, 10.0, max_keys=2, clock=lambda: now[0])
    assert w.hit("a") and w.hit("a") and not w.hit("a")
    now[0] = 10.5
    assert w.hit("a")
    w.hit("b")
    w.hit("c")  # evicts the least recently used key
    assert len(w._events) == 2


async def test_rate_limit_per_user() -> None:
    now = [0.0]
    stage = RateLimitStage(SmtpSettings(messages_per_hour_per_user=1), clock=lambda: now[0])
    env = Envelope(client=CLIENT, auth=ME)
    assert not (await stage.check(Checkpoint.MAIL, env)).refused
    v = await stage.check(Checkpoint.MAIL, env)
    assert v.action is Action.TEMPFAIL and v.primary.code == "rate.limited"  # type: ignore[union-attr]


class OwnsA:
    async def resolve(self, address: str) -> Resolution:
        return Resolution(RecipientKind.UNKNOWN)

    async def may_send_as(self, identity: AuthIdentity, address: str) -> bool:
        return address.lower() == "a@example.com"


async def test_submission_checks_header_from() -> None:
    stage = SubmissionStage(OwnsA(), hostname="h")
    ok = b"From: =?utf-8?b?5byg5LiJ?= <A@example.com>\r\nDate: x\r\nMessage-ID: <1@h>\r\n\r\n"
    assert not (
        await stage.check(Checkpoint.DATA, Envelope(client=CLIENT, auth=ME, message=ok))
    ).refused
    for forged in (
        b"From: Boss <boss@example.com>\r\n\r\n",
        b"From: a@example.com,\r\n boss@example.com\r\n\r\n",  # folded second address
        b"From: a@example.com\r\nFrom: boss@example.com\r\n\r\n",
    ):
        v = await stage.check(Checkpoint.DATA, Envelope(client=CLIENT, auth=ME, message=forged))
        assert v.action is Action.REJECT and v.primary.code == "sender.not_owned", forged  # type: ignore[union-attr]
    assert from_addresses(b"Subject: x\r\n\r\nFrom: body@example.com\r\n") == []


async def test_submission_adds_missing_headers() -> None:
    fixed = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    stage = SubmissionStage(OwnsA(), hostname="mx.example.com", now=lambda: fixed)
    env = Envelope(client=CLIENT, auth=ME, message=b"From: a@example.com\r\n\r\nDate: in body\r\n")
    v = await stage.check(Checkpoint.DATA, env)
    names = [h[0] for h in v.headers]
    assert names == ["Date", "Message-ID"]
    assert v.headers[0][1] == "Fri, 02 Jan 2026 03:04:05 +0000"
    assert v.headers[1][1].endswith("@mx.example.com>")
    full = Envelope(client=CLIENT, auth=ME, message=b"date: x\r\nMESSAGE-ID: <a@b>\r\n\r\n")
    assert (await stage.check(Checkpoint.DATA, full)).headers == ()
    inbound = Envelope(client=CLIENT, message=b"Subject: x\r\n\r\n")
    assert (await stage.check(Checkpoint.DATA, inbound)).headers == ()
    assert header_names(b"A: 1\r\n b\r\nC:2\r\n\r\nD: 3") == {b"a", b"c"}


async def test_runner_merges_and_short_circuits() -> None:
    class Tag:
        name = "tag"
        checkpoints = frozenset({Checkpoint.DATA})

        async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
            return Verdict(
                Action.JUNK, (Reason("tag", "spam.high"),), (("X-T", "1"),), frozenset({"t"})
            )

    class No:
        name = "no"
        checkpoints = frozenset({Checkpoint.DATA})

        async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
            return Verdict(Action.REJECT, (Reason("no", "policy"),))

    class Never:
        name = "never"
        checkpoints = frozenset({Checkpoint.DATA})

        async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
            raise AssertionError("runs after a REJECT")

    env = Envelope(client=CLIENT, message=b"")
    v = await Runner([Tag(), Tag()]).run(Checkpoint.DATA, env)
    assert v.action is Action.JUNK and v.headers == (("X-T", "1"), ("X-T", "1")) and v.tags == {"t"}
    v = await Runner([Tag(), No(), Never()]).run(Checkpoint.DATA, env)
    assert v.action is Action.REJECT and [r.code for r in v.reasons] == ["spam.high", "policy"]
    assert (await Runner([Never()]).run(Checkpoint.MAIL, env)) == Verdict()
