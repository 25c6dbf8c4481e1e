"""The VacationResponse cache of the auto-responder (pipeline/vacation.py): a change reaches
delivery at once through the change bus and within ``VACATION_CACHE_TTL`` seconds without it."""

from __future__ import annotations

from typing import Any, cast

from rongmail.bus import Bus
from rongmail.core.changes import Change
from rongmail.pipeline.vacation import VACATION_CACHE_TTL, VacationCache, VacationDelivery
from rongmail.store.reader import Reader, VacationRow


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class FakeReader:
    def __init__(self) -> None:
        self.rows: dict[int, VacationRow] = {}
        self.reads = 0

    async def vacation(self, account_id: int) -> VacationRow:
        self.reads += 1
        return self.rows.get(account_id, VacationRow(account_id, False, None, None, None, None,
                                                     None))

    def enable(self, account_id: int) -> None:
        self.rows[account_id] = VacationRow(account_id, True, None, None, "Away", "Back soon",
                                            None)


def cache(reader: FakeReader, clock: Clock, **kw: Any) -> VacationCache:
    return VacationCache(cast(Reader, reader), clock=clock, **kw)


async def test_rows_are_reused_until_the_ttl_then_reread() -> None:
    reader, clock = FakeReader(), Clock()
    c = cache(reader, clock)
    assert not (await c.get(7)).is_enabled
    assert not (await c.get(7)).is_enabled
    assert reader.reads == 1
    reader.enable(7)  # switched on by another process whose change this one never sees
    clock.now += VACATION_CACHE_TTL - 0.1
    assert not (await c.get(7)).is_enabled
    clock.now += 0.2
    assert (await c.get(7)).is_enabled  # the stated bound: within VACATION_CACHE_TTL seconds
    assert reader.reads == 2


async def test_a_vacation_change_on_the_bus_takes_effect_at_once() -> None:
    reader, clock, bus = FakeReader(), Clock(), Bus()
    c = cache(reader, clock)
    bus.add_listener(c.on_changes)
    await c.get(7)
    await c.get(8)
    reader.enable(7)
    bus.publish([Change(7, 3, "Email", "created", 1), Change(8, 4, "VacationResponse",
                                                            "updated", 1)])
    assert not (await c.get(7)).is_enabled  # an Email change does not touch the cache
    bus.publish([Change(7, 5, "VacationResponse", "updated", 1)])
    assert (await c.get(7)).is_enabled
    assert reader.reads == 3  # 7 and 8 read once each, then 7 re-read after its change


async def test_the_cache_is_bounded_and_can_be_off() -> None:
    reader, clock = FakeReader(), Clock()
    c = cache(reader, clock, size=2)
    for a in (1, 2, 3, 1):
        await c.get(a)
    assert reader.reads == 4  # 1 was evicted by 3
    off = cache(FakeReader(), clock, ttl=0)
    await off.get(1)
    await off.get(1)
    assert cast(FakeReader, off._reader).reads == 2


async def test_the_delivery_wrapper_listens_on_the_context_bus() -> None:
    class Ctx:
        bus = Bus()

    reader = FakeReader()
    wrapper = VacationDelivery(cast(Any, None), cast(Any, Ctx()), cast(Reader, reader))
    await wrapper._vacations.get(9)
    reader.enable(9)
    Ctx.bus.publish([Change(9, 2, "VacationResponse", "updated", 9)])
    assert (await wrapper._vacations.get(9)).is_enabled


async def test_no_reply_task_while_every_recipient_is_known_not_away() -> None:
    """The wrapper starts its reply task only when some local recipient's VacationResponse
    is not cached yet or is active: a cached inactive row answers without a task."""
    from rongmail.pipeline.envelope import (
        Client,
        Envelope,
        Listener,
        Recipient,
        RecipientKind,
        Resolution,
    )
    from rongmail.pipeline.stage import ACCEPT

    class Ctx:
        bus = Bus()

    class Inner:
        async def deliver(self, env: object, verdict: object) -> str:
            return "L1"

    reader = FakeReader()
    wrapper = VacationDelivery(cast(Any, Inner()), cast(Any, Ctx()), cast(Reader, reader))
    rcpt = Recipient("u@x.test", Resolution(RecipientKind.LOCAL, account_ids=(9,), tenant_id=1))
    env = Envelope(Client("192.0.2.1", 25, Listener.MX), mail_from="a@b.test", rcpts=(rcpt,),
                   message=b"x")
    assert not wrapper._surely_nobody_away(env)  # nothing cached yet
    await wrapper._vacations.get(9)
    assert wrapper._surely_nobody_away(env)
    await wrapper.deliver(env, ACCEPT)
    assert not wrapper._pending
    reader.enable(9)
    Ctx.bus.publish([Change(9, 2, "VacationResponse", "updated", 9)])
    await wrapper._vacations.get(9)
    assert not wrapper._surely_nobody_away(env)  # away now: the task must run
