"""End to end through the Stage-ready API: ``analyze`` then ``Policy.decide``."""

from __future__ import annotations

import pytest

from rongmail.services.spam import (
    Action,
    ContentModel,
    Person,
    Policy,
    ScanContext,
    analyze,
    analyze_sync,
    registry,
)
from rongmail.services.spam.message import parse
from rongmail.services.spam.scan import SYNC_ANALYZERS

from .helpers import msg, raw_message

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _trained_model() -> ContentModel:
    model = ContentModel(bits=18, rate=0.03)  # a handful of examples: a larger step
    for i in range(25):
        for body, spam in (("代开发票 税点优惠 加微信", True), ("周五开会讨论预算", False)):
            model.learn(model.features(msg(body=f"{body} {i}")), spam)
    return model


async def test_clean_mail_is_delivered() -> None:
    raw = raw_message(body="周五下午三点开会讨论预算，请准时参加。")
    ctx = ScanContext(raw=raw, model=_trained_model(), auth={"spf": "pass", "dmarc": "pass"})
    verdict = Policy().decide(
        await analyze(msg(body="周五下午三点开会讨论预算，请准时参加。"), ctx)
    )
    assert verdict.action is Action.DELIVER
    assert "BAYES_HAM" in verdict.tag_names


async def test_invoice_spam_goes_to_junk_or_worse() -> None:
    body = "本公司代开增值税发票，税点优惠，有意请加微信：fp2026888"
    raw = raw_message(body=body, message_id=None)
    ctx = ScanContext(raw=raw, model=_trained_model(), auth={"spf": "softfail"})
    verdict = Policy().decide(await analyze(msg(body=body, message_id=None), ctx))
    assert verdict.action >= Action.JUNK
    assert {"ZH_INVOICE", "ZH_CONTACT_IM", "MISSING_MID", "SPF_SOFTFAIL"} <= set(verdict.tag_names)
    assert any(n.startswith("BAYES_SPAM") for n in verdict.tag_names)


async def test_ceo_fraud_is_quarantined() -> None:
    body = "我在开会不方便接电话。原账户因审计暂停使用，请今天把货款汇款至新账户，完成后回复我。"
    m = msg(sender="王建国 <wjg.ceo@163.com>", body=body)
    ctx = ScanContext(
        tenant_domains=frozenset({"rongmail.cn"}),
        people=(Person("王建国", "wangjg@rongmail.cn", executive=True),),
        first_time_sender=True,
    )
    verdict = Policy().decide(await analyze(m, ctx))
    assert verdict.action is Action.QUARANTINE
    assert {"IMPERSONATE_EXECUTIVE", "PAYMENT_CHANGE_FIRST_TIME"} <= set(verdict.tag_names)


class FakeClamd:
    async def scan(self, data: bytes) -> str | None:
        return "Eicar-Signature" if b"EICAR-STANDARD" in data else None


async def test_virus_is_rejected_with_a_reason() -> None:
    raw = raw_message(attachments=[("readme.txt", EICAR)])
    ctx = ScanContext(raw=raw, virus_scanner=FakeClamd())
    verdict = Policy(lang="en").decide(await analyze(parse(raw), ctx))
    assert verdict.action is Action.REJECT
    assert "VIRUS_FOUND(Eicar-Signature: readme.txt)" in verdict.explain()


async def test_a_broken_analyzer_does_not_lose_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object) -> list:  # type: ignore[type-arg]
        raise RuntimeError("bug")

    import rongmail.services.spam.scan as scan

    monkeypatch.setattr(scan, "SYNC_ANALYZERS", (boom, *SYNC_ANALYZERS))
    tags = await analyze(msg(message_id=None), ScanContext())
    assert "MISSING_MID" in {t.name for t in tags}


def test_every_emitted_tag_is_declared() -> None:
    m = msg(html="<a href='http://bit.ly/x'>https://bank.example</a>", html_only=True)
    tags = analyze_sync(m, ScanContext(model=ContentModel(bits=16)))
    assert tags and all(t.name in registry() for t in tags)
    assert "BAYES_UNTRAINED" in {t.name for t in tags}


class SlowFilter:
    async def tags(self, raw: bytes, ctx: ScanContext) -> list:  # type: ignore[type-arg]
        import asyncio

        await asyncio.sleep(5)
        return []


async def test_a_slow_step_is_cut_by_the_time_budget() -> None:
    raw = raw_message(message_id=None)
    ctx = ScanContext(raw=raw, external=(SlowFilter(),))
    tags = await analyze(parse(raw), ctx, timeout=0.2)
    assert "MISSING_MID" in {t.name for t in tags}
