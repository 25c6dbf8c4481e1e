"""Clean inbound mail counts its sender as a known correspondent in the delivery's own
transaction (``pipeline.delivery``): one write per message, no background task."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rongmail.pipeline.delivery import ActionDelivery
from rongmail.pipeline.quarantine import QuarantineDelivery
from rongmail.pipeline.stage import Action, Checkpoint
from rongmail.pipeline.stages.spam import CLEAN_TAG, SpamStage
from rongmail.store.sql import spam as ss

from .conftest import World
from .samples import ham


class CountingMeta:
    """The world's store, counting writes."""

    def __init__(self, meta: Any) -> None:
        self.meta = meta
        self.dialect = meta.dialect
        self.writes: list[bool] = []

    async def read(self, op: Any, **kw: Any) -> Any:
        return await self.meta.read(op, **kw)

    async def write(self, op: Any, *, durable: bool = True) -> Any:
        self.writes.append(durable)
        return await self.meta.write(op, durable=durable)


async def _counts(world: World, address: str) -> dict[str, tuple[int, int]]:
    return await world.ctx.meta.read(ss.contact_counts(world.tenant_id, [address]))


async def test_clean_delivery_counts_sender_in_the_same_durable_write(world: World) -> None:
    counting = CountingMeta(world.ctx.meta)
    ctx = replace(world.ctx, meta=counting)
    raw = ham()
    env = world.inbound(raw)
    verdict = await SpamStage(world.ctx.meta, world.models).check(Checkpoint.DATA, env)
    assert CLEAN_TAG in verdict.tags and verdict.action is Action.ACCEPT
    before = await _counts(world, "zhangwei@partner.example")
    result = await QuarantineDelivery(ActionDelivery(ctx, world.reader), ctx).deliver(env, verdict)
    assert result.startswith("L")
    assert counting.writes == [True]  # the delivery alone, durable; nothing left in flight
    after = await _counts(world, "zhangwei@partner.example")
    assert after["zhangwei@partner.example"][1] == before.get(
        "zhangwei@partner.example", (0, 0))[1] + 1


async def test_junk_or_submitted_mail_counts_nobody(world: World) -> None:
    env = world.inbound(ham())
    verdict = await SpamStage(world.ctx.meta, world.models).check(Checkpoint.DATA, env)
    assert CLEAN_TAG in verdict.tags
    delivery = ActionDelivery(world.ctx, world.reader)
    await delivery.deliver(env, replace(verdict, action=Action.JUNK))
    await delivery.deliver(replace(env, auth=world.submission(ham()).auth), verdict)
    assert await _counts(world, "zhangwei@partner.example") == {}
