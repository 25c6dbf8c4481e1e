"""``bus.follower``: own-batch suppression, ordering, id gaps (sans store: a list is the log)."""

from __future__ import annotations

import asyncio

from rongmail.bus.follower import ChangeFollower, FollowedBus
from rongmail.core.changes import Change


def ch(account: int, modseq: int, obj: int = 1) -> Change:
    return Change(account, modseq, "Email", "created", obj)


class Log:
    """A change log visible through ``fetch``; rows may be added out of id order (PostgreSQL)."""

    def __init__(self) -> None:
        self.rows: dict[int, Change] = {}

    async def fetch(self, after: int) -> list[tuple[int, Change]]:
        return [(i, self.rows[i]) for i in sorted(self.rows) if i > after]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(sub) -> list[list[Change]]:  # type: ignore[no-untyped-def]
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


async def test_publishes_other_process_changes_in_id_order_grouped_by_write() -> None:
    bus, log = FollowedBus(), Log()
    sub = bus.subscribe(None)
    log.rows = {1: ch(7, 1)}
    f = ChangeFollower(bus, log.fetch, start_id=1)
    log.rows.update({2: ch(7, 2, 10), 3: ch(7, 2, 11), 4: ch(8, 5), 5: ch(7, 3)})
    assert await f.poll_once() == 4
    assert drain(sub) == [[ch(7, 2, 10), ch(7, 2, 11)], [ch(8, 5)], [ch(7, 3)]]
    assert f.floor == 5
    assert await f.poll_once() == 0
    assert drain(sub) == []


async def test_own_batch_published_once_whichever_copy_comes_first() -> None:
    bus, log = FollowedBus(), Log()
    sub = bus.subscribe(7)
    f = ChangeFollower(bus, log.fetch, start_id=0)
    # the action publishes first, then the follower reads the same committed rows
    bus.publish([ch(7, 1)])
    log.rows[1] = ch(7, 1)
    await f.poll_once()
    # the follower reads first (commit visible before the action resumed), then the action
    log.rows[2] = ch(7, 2)
    await f.poll_once()
    bus.publish([ch(7, 2)])
    assert drain(sub) == [[ch(7, 1)], [ch(7, 2)]]


async def test_waits_for_an_id_gap_then_gives_up() -> None:
    bus, log, clock = FollowedBus(), Log(), Clock()
    sub = bus.subscribe(None)
    f = ChangeFollower(bus, log.fetch, start_id=0, gap_wait=2.0, clock=clock)
    log.rows = {1: ch(1, 1), 3: ch(1, 3)}  # id 2 is not committed yet (PostgreSQL sequence)
    await f.poll_once()
    assert f.floor == 1
    clock.now = 1.0
    log.rows[2] = ch(1, 2)  # commits late: still published, exactly once
    log.rows[4] = ch(1, 4)
    assert await f.poll_once() == 2
    assert f.floor == 4
    # modseq 3 was held until 2 arrived: the account's changes come in commit order
    assert drain(sub) == [[ch(1, 1)], [ch(1, 2), ch(1, 3)], [ch(1, 4)]]
    log.rows[6] = ch(1, 5)  # id 5 rolled back (with its modseq bump): never appears
    await f.poll_once()
    assert f.floor == 4
    clock.now = 5.0
    await f.poll_once()
    assert f.floor == 6
    assert drain(sub) == [[ch(1, 5)]]


async def test_local_commit_waits_for_an_earlier_commit_of_another_process() -> None:
    bus, log = FollowedBus(), Log()
    sub = bus.subscribe(7)
    f = ChangeFollower(bus, log.fetch, start_id=0)
    log.rows[1] = ch(7, 1)
    await f.poll_once()
    # another process committed modseq 2, then this one committed 3 and publishes at once
    log.rows[2] = ch(7, 2, 20)
    log.rows[3] = ch(7, 3, 30)
    bus.publish([ch(7, 3, 30)])
    assert drain(sub) == [[ch(7, 1)]]  # held: 2 is not delivered yet
    assert f._wake.is_set()  # the follower was poked to read the log now
    await f.poll_once()
    assert drain(sub) == [[ch(7, 2, 20), ch(7, 3, 30)]]


async def test_a_gap_nobody_fills_is_skipped_after_hold() -> None:
    bus = FollowedBus(hold=0.05)
    sub = bus.subscribe(7)
    bus.publish([ch(7, 1)])
    bus.publish([ch(7, 3)])  # modseq 2 was bumped without change rows
    assert drain(sub) == [[ch(7, 1)]]
    await asyncio.sleep(0.2)
    assert drain(sub) == [[ch(7, 3)]]
    bus.publish([ch(7, 2)])  # late after all: delivered, not lost
    assert drain(sub) == [[ch(7, 2)]]


async def test_catches_up_after_a_pause() -> None:
    bus, log = FollowedBus(), Log()
    sub = bus.subscribe(None)
    f = ChangeFollower(bus, log.fetch, start_id=0)
    log.rows = {i: ch(3, i) for i in range(1, 201)}
    await f.poll_once()
    got = [c.modseq for batch in drain(sub) for c in batch]
    assert got == list(range(1, 201))


async def test_dedup_memory_is_bounded() -> None:
    bus = FollowedBus(remember=10)
    for i in range(100):
        bus.publish([ch(1, i)])
    assert len(bus._seen) == 10


async def test_dedup_memory_expires_after_the_window() -> None:
    """A change is remembered for ``window`` seconds (its twin comes within a poll or two),
    then forgotten even if nothing else is published: a quiet node does not keep them."""
    clock = Clock()
    bus = FollowedBus(window=5.0, clock=clock)
    sub = bus.subscribe(1)
    bus.publish([ch(1, 1)])
    clock.now = 3.0
    bus.publish([ch(1, 2)])
    bus.publish([ch(1, 1), ch(1, 2)])  # the follower's copies, within the window: dropped
    assert drain(sub) == [[ch(1, 1)], [ch(1, 2)]]
    clock.now = 5.0
    bus.publish([ch(1, 3)])
    assert list(bus._seen) == [ch(1, 2), ch(1, 3)]  # the first one is 5 s old
    clock.now = 100.0
    bus._sweep_timer.cancel()  # type: ignore[union-attr]
    bus._sweep()  # what the timer runs
    assert not bus._seen and bus._sweep_timer is None
    # with the event loop's timer and no further publish
    real = FollowedBus(window=0.05)
    real.publish([ch(2, 1), ch(2, 2)])
    assert len(real._seen) == 2
    await asyncio.sleep(0.2)
    assert not real._seen
