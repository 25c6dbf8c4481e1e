"""core/turns.py: long work waits for the loop's idle moments (short work that is ready runs
first), never longer than ``max_wait`` per step, ``budget`` per command, in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from rongmail.core.turns import LongWork, background_turn


@contextlib.contextmanager
def never_idle() -> Iterator[asyncio.AbstractEventLoop]:
    """Keep one callback ready on the running loop at every iteration."""
    loop = asyncio.get_running_loop()
    stop = False

    def spin() -> None:
        if not stop:
            loop.call_soon(spin)

    spin()
    try:
        yield loop
    finally:
        stop = True


async def _short_work(log: list[str], steps: int) -> None:
    for i in range(steps):
        log.append(f"short{i}")
        await asyncio.sleep(0)


async def test_ready_short_work_runs_before_the_long_step() -> None:
    log: list[str] = []

    async def long() -> None:
        log.append("long-start")
        await background_turn(max_wait=5)
        log.append("long-resumed")

    await asyncio.gather(long(), _short_work(log, 20))
    assert log.index("long-resumed") > log.index("short19"), log
    # with asyncio.sleep(0) instead, the long step would interleave with the short steps
    log.clear()

    async def plain() -> None:
        log.append("long-start")
        await asyncio.sleep(0)
        log.append("long-resumed")

    await asyncio.gather(plain(), _short_work(log, 20))
    assert log.index("long-resumed") < log.index("short19"), log


async def test_a_never_idle_loop_releases_after_max_wait() -> None:
    with never_idle() as loop:
        t0 = loop.time()
        await background_turn(max_wait=0.05)
        waited = loop.time() - t0
    assert 0.05 <= waited < 2, waited


async def test_waiters_leave_in_arrival_order_and_cancelled_ones_are_dropped() -> None:
    order: list[int] = []

    async def waiter(i: int) -> None:
        await background_turn(max_wait=5)
        order.append(i)

    tasks = [asyncio.ensure_future(waiter(i)) for i in range(4)]
    await asyncio.sleep(0)  # all four are waiting now
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 2, 3]


async def test_long_work_stops_waiting_once_its_budget_is_spent() -> None:
    with never_idle() as loop:
        work = LongWork(budget=0.06, max_wait=0.03)
        t0 = loop.time()
        for _ in range(40):  # 1.2 s of waiting without the budget
            await work.turn()
        took = loop.time() - t0
    assert work.left <= 0
    assert took < 0.6, f"40 turns took {took:.2f}s: the budget did not cap the waiting"


async def test_past_its_budget_long_work_runs_in_slices() -> None:
    """No background waits once the budget is spent: steps within one slice go on without a
    turn (a turn per small step cost a round of the other work each), the next slice starts
    after a plain turn."""
    log: list[str] = []
    work = LongWork(budget=0.0, slice_=0.05)

    async def long() -> None:
        await work.turn()  # the first turn: a plain one
        log.append("long-1")
        await work.turn()  # within the slice: no turn
        log.append("long-2")
        await asyncio.sleep(0.06)  # the slice is over
        await work.turn()
        log.append("long-3")

    async def short() -> None:
        await asyncio.sleep(0)
        log.append("short")

    await asyncio.gather(long(), short())
    assert log.index("long-2") == log.index("long-1") + 1, log


async def test_hurried_long_work_stops_taking_background_turns() -> None:
    """Once another session waits for its result (``hurry``), long work no longer waits for
    the loop's idle moments (priority inheritance)."""
    with never_idle() as loop:
        work = LongWork(budget=10.0, max_wait=0.2)
        work.hurry()
        t0 = loop.time()
        for _ in range(5):  # five 0.2 s background waits without the hurry
            await work.turn()
        took = loop.time() - t0
    assert took < 0.5, f"{took:.2f}s: still waiting for idle moments"
