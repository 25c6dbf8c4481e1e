"""Outbound filtering: bursts refused, volume and spam held (not queued), admins alerted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from rongmail.actions.spam import do_release_quarantine, do_set_spam_settings, list_quarantine
from rongmail.app import data_stages
from rongmail.config.settings import Settings
from rongmail.pipeline.delivery import ActionDelivery
from rongmail.pipeline.envelope import AuthIdentity
from rongmail.pipeline.quarantine import QuarantineDelivery
from rongmail.pipeline.stage import Action, Checkpoint
from rongmail.pipeline.stages.outbound import HOLD_TAG, OutboundStage, action_alert
from rongmail.services.spam import Thresholds
from rongmail.store.sql import queue as qs

from .conftest import World
from .samples import ham, phishing, spam


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


async def test_burst_is_refused_and_alerted_once(world: World) -> None:
    alerts: list[tuple[str, str]] = []

    async def alert(ident: AuthIdentity, reason: str, detail: str) -> None:
        alerts.append((ident.address, reason))

    clock = Clock()
    stage = OutboundStage(
        world.ctx.meta, world.models, burst_per_minute=5, alert=alert, clock=clock
    )
    for _ in range(5):
        v = await stage.check(Checkpoint.DATA, world.submission(ham()))
        assert v.action is Action.ACCEPT and HOLD_TAG not in v.tags
        clock.t += 1
    v = await stage.check(Checkpoint.DATA, world.submission(ham()))
    assert v.action is Action.TEMPFAIL and v.reasons[0].code == "outbound.burst"
    await stage.check(Checkpoint.DATA, world.submission(ham()))
    await asyncio.sleep(0)
    assert alerts == [("user@acme-corp.cn", "burst")]
    # after the minute the account may send again, but it stays held for review
    clock.t += 120
    v = await stage.check(Checkpoint.DATA, world.submission(ham()))
    assert v.action is Action.ACCEPT and "outbound.flagged" in v.tags and HOLD_TAG in v.tags
    # other accounts are not affected
    v = await stage.check(Checkpoint.DATA, world.submission(ham(), who=world.admin))
    assert HOLD_TAG not in v.tags
    # inbound mail is never touched
    assert await stage.check(Checkpoint.DATA, world.inbound(ham())) is not None


async def test_volume_anomaly_is_held(world: World) -> None:
    stage = OutboundStage(world.ctx.meta, world.models, hourly_floor=50, clock=Clock())
    v = await stage.check(Checkpoint.DATA, world.submission(ham(), rcpts=40))
    assert HOLD_TAG not in v.tags
    v = await stage.check(Checkpoint.DATA, world.submission(ham(), rcpts=20))
    assert HOLD_TAG in v.tags and "outbound.volume" in v.tags


async def test_spam_from_an_account_is_held_not_queued_and_admins_alerted(world: World) -> None:
    stage = OutboundStage(world.ctx.meta, world.models, alert=action_alert(world.ctx))
    env = world.submission(phishing(to="victim@remote.example"))
    v = await stage.check(Checkpoint.DATA, env)
    assert v.action is Action.ACCEPT and HOLD_TAG in v.tags and "outbound.spam" in v.tags
    delivery = QuarantineDelivery(ActionDelivery(world.ctx, world.reader), world.ctx)
    qid = await delivery.deliver(env, v)
    assert qid.startswith("H")
    assert await world.ctx.meta.read(qs.list_messages()) == []  # not queued
    [row] = await list_quarantine(world.ctx, tenant_id=world.tenant_id, direction="outbound")
    assert row.account_id == world.user.id and row.rcpts == ("r0@remote.example",)
    # release by an admin queues it, without our X-RongMail-Spam header
    await do_release_quarantine(world.ctx, row.id, actor_id=world.admin.id)
    [queued] = await world.ctx.meta.read(qs.list_messages())
    # each tenant admin got an alert in their Inbox
    for admin in (world.boss, world.admin):
        inbox = await world.reader.mailbox_by_role(admin.id, "inbox")
        assert inbox is not None
        entries = await world.reader.mailbox_entries(inbox.id)
        msgs = await world.reader.messages(admin.id, [e.message_id for e in entries])
        assert any("user@acme-corp.cn" in m.subject for m in msgs)


async def test_content_check_uses_config_defaults_without_a_tenant_row(world: World) -> None:
    """No ``spam_settings`` row: the ``[spam]`` thresholds passed in decide, not 5/10/15."""
    builtin = OutboundStage(world.ctx.meta, world.models, cache_ttl=0)
    v = await builtin.check(Checkpoint.DATA, world.submission(spam(to="x@remote.example")))
    assert HOLD_TAG not in v.tags  # junk-level content: below the default quarantine score
    strict = OutboundStage(
        world.ctx.meta, world.models, cache_ttl=0, thresholds=Thresholds(1.0, 2.0, 3.0)
    )
    v = await strict.check(Checkpoint.DATA, world.submission(spam(to="x@remote.example")))
    assert HOLD_TAG in v.tags and "outbound.spam" in v.tags
    lenient = OutboundStage(
        world.ctx.meta, world.models, cache_ttl=0, thresholds=Thresholds(50.0, 60.0, 70.0)
    )
    v = await lenient.check(Checkpoint.DATA, world.submission(phishing(to="v@remote.example")))
    assert "outbound.spam" not in v.tags
    off = OutboundStage(world.ctx.meta, world.models, cache_ttl=0, content_enabled=False)
    v = await off.check(Checkpoint.DATA, world.submission(phishing(to="v@remote.example")))
    assert "outbound.spam" not in v.tags
    # a tenant row overrides the configured defaults, both ways
    await do_set_spam_settings(world.ctx, world.tenant_id, thresholds=Thresholds())
    v = await strict.check(
        Checkpoint.DATA, world.submission(spam(to="x@remote.example"), who=world.admin)
    )
    assert HOLD_TAG not in v.tags
    v = await off.check(Checkpoint.DATA, world.submission(phishing(to="v@remote.example")))
    assert "outbound.spam" in v.tags


def test_app_passes_spam_defaults_to_the_outbound_stage(tmp_path: Path) -> None:
    """``app.data_stages`` wires ``[spam]`` thresholds into the outbound stage too."""
    settings = Settings.model_validate(
        {"spam": {"junk_score": 2.0, "quarantine_score": 3.0, "reject_score": 4.0}}
    )
    app = SimpleNamespace(
        settings=settings, spam_models=None, resolver=None, ctx=SimpleNamespace(meta=None)
    )
    [stage] = [s for s in data_stages(app) if isinstance(s, OutboundStage)]  # type: ignore[arg-type]
    assert stage._tenants._defaults == Thresholds(2.0, 3.0, 4.0)
