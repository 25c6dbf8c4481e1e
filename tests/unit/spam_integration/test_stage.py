"""The inbound spam stage: verdicts, headers, tenant thresholds, budget (issue 9)."""

from __future__ import annotations

import asyncio

import pytest

from rongmail.actions.spam import SPAM_HEADER, do_set_spam_settings, drop_header, learnable
from rongmail.pipeline.stage import Action, Checkpoint
from rongmail.pipeline.stages.spam import QUARANTINE_TAG, SpamStage, header_value
from rongmail.services.spam import Policy, Thresholds
from rongmail.services.spam.tags import tag

from .conftest import World
from .samples import ham, phishing, spam


def _header(v: object) -> str:
    return dict(v.headers)[SPAM_HEADER]  # type: ignore[attr-defined]


async def test_ham_spam_phishing(world: World) -> None:
    stage = SpamStage(world.ctx.meta, world.models)
    v = await stage.check(Checkpoint.DATA, world.inbound(ham()))
    assert v.action is Action.ACCEPT and not v.reasons
    assert _header(v).startswith("deliver; score=0.0")
    v = await stage.check(Checkpoint.DATA, world.inbound(spam()))
    assert v.action is Action.JUNK and QUARANTINE_TAG not in v.tags
    assert "ZH_INVOICE(+4.0)" in _header(v) and "spam:ZH_INVOICE" in v.tags
    assert v.reasons[0].code == "spam.junk"
    v = await stage.check(Checkpoint.DATA, world.inbound(phishing()))
    assert v.action is Action.JUNK and QUARANTINE_TAG in v.tags
    assert _header(v).startswith("quarantine; score=")
    assert {"spam:IMPERSONATE_EXECUTIVE", "spam:HTML_CREDENTIAL_FORM"} <= v.tags
    assert _header(v).isascii()


async def test_tenant_thresholds_and_disable(world: World) -> None:
    await do_set_spam_settings(world.ctx, world.tenant_id,
                               thresholds=Thresholds(junk=20, quarantine=30, reject=40))
    stage = SpamStage(world.ctx.meta, world.models, cache_ttl=0)
    assert (await stage.check(Checkpoint.DATA, world.inbound(spam()))).action is Action.ACCEPT
    # a tag with a minimum action (a password form) quarantines whatever the thresholds
    assert QUARANTINE_TAG in (await stage.check(Checkpoint.DATA, world.inbound(phishing()))).tags
    await do_set_spam_settings(world.ctx, world.tenant_id, thresholds=Thresholds(),
                               weights={"ZH_INVOICE": 12.0})
    v = await stage.check(Checkpoint.DATA, world.inbound(spam()))
    assert QUARANTINE_TAG in v.tags
    await do_set_spam_settings(world.ctx, world.tenant_id, thresholds=Thresholds(),
                               enabled=False)
    v = await stage.check(Checkpoint.DATA, world.inbound(phishing()))
    assert v.action is Action.ACCEPT and not v.headers


async def test_model_output_never_rejects(world: World) -> None:
    stage = SpamStage(world.ctx.meta, world.models)
    tags = [tag("BAYES_SPAM_HIGH"), tag("ZH_INVOICE"), tag("ZH_CONTACT_IM"),
            tag("ZH_GET_RICH"), tag("URL_SHORTENER"), tag("RBL_LISTED")]
    sv = Policy(Thresholds(1, 2, 3)).decide(tags)
    assert stage.to_verdict(sv).action is Action.JUNK
    sv = Policy(Thresholds(1, 2, 3)).decide([tag("VIRUS_FOUND", "Eicar")])
    assert stage.to_verdict(sv).action is Action.REJECT


async def test_submissions_are_skipped(world: World) -> None:
    stage = SpamStage(world.ctx.meta, world.models)
    v = await stage.check(Checkpoint.DATA, world.submission(spam()))
    assert v.action is Action.ACCEPT and not v.headers


async def test_budget_overrun_accepts_with_marker(world: World) -> None:
    class SlowAuth:
        async def check(self, message: bytes, *, ip: str, helo: str, mail_from: str) -> object:
            await asyncio.sleep(5)
            raise AssertionError

    stage = SpamStage(world.ctx.meta, world.models, auth=SlowAuth(), budget=0.2)
    v = await stage.check(Checkpoint.DATA, world.inbound(spam()))
    # auth overran (skipped); the analyzers still ran within what was left... or not at all
    assert v.action in (Action.ACCEPT, Action.JUNK)


def test_header_value_is_bounded() -> None:
    many = [tag(n) for n in ("ZH_INVOICE", "ZH_TRAINING", "ZH_CONTACT_IM", "ZH_AD_MARKER",
                             "ZH_GET_RICH", "URL_SHORTENER", "URL_IP_HOST", "MISSING_DATE",
                             "MISSING_MID", "MISSING_TO", "SUBJ_ALL_CAPS")] * 1
    value = header_value(Policy().decide(many))
    assert value.startswith("reject;") or value.startswith("quarantine;")
    assert len(value) < 998 and value.isascii()


def test_learnable_strips_server_headers() -> None:
    original = ham()
    stored = (b"Received: from x by y\r\nAuthentication-Results: mx; spf=pass\r\n"
              b"X-RongMail-Spam: deliver; score=0.0\r\n") + original
    assert learnable(stored) == original
    assert learnable(original) == original
    assert b"X-RongMail-Spam" not in drop_header(stored, b"x-rongmail-spam")
    assert drop_header(stored, b"x-rongmail-spam").endswith(original)


async def test_memo_authenticator_evaluates_once(monkeypatch: object) -> None:
    from rongmail.pipeline.stages.spam import MemoMailAuthenticator
    from rongmail.services.mailauth import MailAuthenticator

    calls: list[bytes] = []

    async def fake(self: object, message: bytes, *, ip: str, helo: str,
                   mail_from: str) -> object:
        calls.append(message)
        await asyncio.sleep(0.01)
        return ("verdict", len(calls))

    monkeypatch.setattr(MailAuthenticator, "check", fake)  # type: ignore[attr-defined]
    memo = MemoMailAuthenticator(None, authserv_id="mx.test", memo_size=2)  # type: ignore[arg-type]
    a, b = await asyncio.gather(memo.check(b"m1", ip="1", helo="h", mail_from="f"),
                                memo.check(b"m1", ip="1", helo="h", mail_from="f"))
    assert a == b and calls == [b"m1"]
    await memo.check(b"m1", ip="1", helo="h", mail_from="f")  # both stages had it: afresh
    assert len(calls) == 2
    await memo.check(b"m1", ip="2", helo="h", mail_from="f")  # other client: evaluated again
    await memo.check(b"m2", ip="1", helo="h", mail_from="f")
    await memo.check(b"m3", ip="1", helo="h", mail_from="f")
    await memo.check(b"m2", ip="1", helo="h", mail_from="f")  # its second caller: shared
    assert len(calls) == 5
    await memo.check(b"m1", ip="2", helo="h", mail_from="f")  # evicted (bounded)
    assert len(calls) == 6


async def test_memo_authenticator_shares_only_within_its_ttl(monkeypatch: object) -> None:
    """An evaluation no second stage asked for is not reused later (a resend of the same
    message is checked afresh: DNS and key expiry may have changed)."""
    from rongmail.pipeline.stages.spam import MemoMailAuthenticator
    from rongmail.services.mailauth import MailAuthenticator

    calls: list[bytes] = []

    async def fake(self: object, message: bytes, *, ip: str, helo: str,
                   mail_from: str) -> object:
        calls.append(message)
        return ("verdict", len(calls))

    monkeypatch.setattr(MailAuthenticator, "check", fake)  # type: ignore[attr-defined]
    memo = MemoMailAuthenticator(None, authserv_id="mx.test", ttl=0.05)  # type: ignore[arg-type]
    first = await memo.check(b"m1", ip="1", helo="h", mail_from="f")
    await asyncio.sleep(0.1)
    assert await memo.check(b"m1", ip="1", helo="h", mail_from="f") != first
    assert len(calls) == 2


async def test_memo_authenticator_key_and_settled_answers(monkeypatch: object) -> None:
    """The memo key is SHA-256 of the NUL-joined inputs (also for the same message object
    asked again, and for an equal copy of it); a settled evaluation is answered as awaiting it
    would (its value, or its exception)."""
    import hashlib

    from rongmail.pipeline.stages.spam import MemoMailAuthenticator
    from rongmail.services.mailauth import MailAuthenticator

    async def fake(self: object, message: bytes, *, ip: str, helo: str,
                   mail_from: str) -> object:
        if message == b"bad":
            raise RuntimeError("broken")
        return ("verdict", message)

    monkeypatch.setattr(MailAuthenticator, "check", fake)  # type: ignore[attr-defined]
    memo = MemoMailAuthenticator(None, authserv_id="mx.test")  # type: ignore[arg-type]
    message = b"From: a@b.test\r\n\r\nbody"
    want = hashlib.sha256(b"\0".join((b"1.2.3.4", b"helo", b"f@b.test", message))).digest()
    for m in (message, message, bytes(bytearray(message))):
        assert memo._key(m, "1.2.3.4", "helo", "f@b.test") == want
    assert memo._key(message, "1.2.3.5", "helo", "f@b.test") != want
    first = await memo.check(message, ip="1", helo="h", mail_from="f")
    assert await memo.check(message, ip="1", helo="h", mail_from="f") is first
    for _ in range(2):
        with pytest.raises(RuntimeError, match="broken"):
            await memo.check(b"bad", ip="1", helo="h", mail_from="f")
