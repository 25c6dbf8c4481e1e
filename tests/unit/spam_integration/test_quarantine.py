"""Quarantine: held by the delivery, kept by GC, released with learning, digests (issue 9)."""

from __future__ import annotations

import pytest

from rongmail.actions.spam import (
    do_delete_quarantine,
    do_release_quarantine,
    list_quarantine,
)
from rongmail.errors import Conflict
from rongmail.pipeline.delivery import ActionDelivery
from rongmail.pipeline.quarantine import QuarantineDelivery
from rongmail.pipeline.stage import Checkpoint
from rongmail.pipeline.stages.spam import SpamStage
from rongmail.store.sql import blobs as sb
from rongmail.store.sql import spam as ss
from rongmail.workers.quarantine_digest import digest_once

from .conftest import World
from .samples import phishing, spam


async def _inbox_subjects(world: World, account_id: int, role: str = "inbox") -> list[str]:
    mb = await world.reader.mailbox_by_role(account_id, role)
    assert mb is not None
    entries = await world.reader.mailbox_entries(mb.id)
    msgs = await world.reader.messages(account_id, [e.message_id for e in entries])
    return [m.subject for m in msgs]


async def _deliver(world: World, raw: bytes) -> str:
    stage = SpamStage(world.ctx.meta, world.models)
    env = world.inbound(raw)
    verdict = await stage.check(Checkpoint.DATA, env)
    delivery = QuarantineDelivery(ActionDelivery(world.ctx, world.reader), world.ctx)
    return await delivery.deliver(env, verdict)


async def test_phishing_is_held_and_released_with_learning(world: World) -> None:
    qid = await _deliver(world, phishing())
    assert qid.startswith("H")
    assert await _inbox_subjects(world, world.user.id) == []
    assert await _inbox_subjects(world, world.user.id, "junk") == []
    [row] = await list_quarantine(world.ctx, account_id=world.user.id)
    assert row.direction == "inbound" and row.status == "held" and row.score >= 10
    names = [t["name"] for t in row.tags]
    assert "IMPERSONATE_EXECUTIVE" in names and all(t["reason"] for t in row.tags)
    # blob GC keeps a held blob
    alive = await world.ctx.meta.read(sb.known(row.tenant_id, [row.blob_id]))
    assert row.blob_id in alive
    raw = await world.ctx.blobs.get(row.tenant_id, row.blob_id)
    assert raw.startswith(b"Received: ") and b"X-RongMail-Spam: quarantine;" in raw

    done = await do_release_quarantine(world.ctx, row.id, actor_id=world.user.id,
                                       models=world.models)
    assert done.status == "released" and done.decided_by == world.user.id
    assert len(await _inbox_subjects(world, world.user.id)) == 1
    model = await world.models.get(world.tenant_id)
    assert (model.n_ham, model.n_spam) == (1, 0)
    with pytest.raises(Conflict):
        await do_release_quarantine(world.ctx, row.id, actor_id=world.user.id)
    # released: the message row now references the blob
    assert row.blob_id in await world.ctx.meta.read(sb.known(row.tenant_id, [row.blob_id]))


async def test_delete_learns_spam_and_frees_the_blob(world: World) -> None:
    await _deliver(world, phishing())
    [row] = await list_quarantine(world.ctx, tenant_id=world.tenant_id)
    await do_delete_quarantine(world.ctx, row.id, actor_id=world.admin.id, models=world.models)
    assert (await world.models.get(world.tenant_id)).n_spam == 1
    assert await world.ctx.meta.read(sb.known(row.tenant_id, [row.blob_id])) == set()
    assert await list_quarantine(world.ctx, tenant_id=world.tenant_id) == []


async def test_junk_goes_to_junk_not_quarantine(world: World) -> None:
    qid = await _deliver(world, spam())
    assert qid.startswith("L")
    assert len(await _inbox_subjects(world, world.user.id, "junk")) == 1
    assert await list_quarantine(world.ctx, tenant_id=world.tenant_id) == []


async def test_daily_digest(world: World) -> None:
    await _deliver(world, phishing())
    assert await digest_once(world.ctx) == 1
    subjects = await _inbox_subjects(world, world.user.id)
    assert len(subjects) == 1 and "1" in subjects[0]
    assert await digest_once(world.ctx) == 0  # announced once
    assert await world.ctx.meta.read(ss.undigested()) == []


async def test_expired_rows_are_purged(world: World) -> None:
    await _deliver(world, phishing())
    n = await world.ctx.meta.write(ss.purge_expired(2**40))
    assert n == 1
    assert await list_quarantine(world.ctx, tenant_id=world.tenant_id) == []
