"""``bench/imap_mixed.py``'s goal check (issue 4): RongMail offered 1.5x Dovecot's
closed-loop ops/s must keep up and show no command's p99 worse than Dovecot's at capacity,
timed from the send and from the schedule alike."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from imap_mixed import GOAL_LATE_MAX, OPS, goal_check  # noqa: E402


def _run(ms: float, *, late: int = 0, ops: int = 1000, sched_extra: float = 0.0
         ) -> dict[str, Any]:
    lat = {name: [ms] * 200 for name, _ in OPS}
    sched = {name: [ms + sched_extra] * 200 for name, _ in OPS}
    return {"ops": ops, "wall": 1.0, "lat": lat, "sched": sched, "sched_net": sched, "late": late,
            "spans": [(ops // 20, 1.0)] * 20}


def _peer(ms: float) -> dict[str, Any]:
    return {name: (ms / 2, ms) for name, _ in OPS}


def test_met_when_kept_up_and_every_p99_no_worse() -> None:
    lines = goal_check(1.5, 900.0, [_run(3.0), _run(3.0)], _peer(7.0))
    assert lines[-1].endswith(": MET")
    assert "kept up" in lines[0] and "= 900 ops/s, served 1000 ops/s" in lines[0]
    assert all(line.endswith("ok") for line in lines[1:-1])


def test_one_command_worse_fails() -> None:
    runs = [_run(3.0)]
    runs[0]["lat"]["select"] = [9.0] * 200
    lines = goal_check(1.5, 900.0, runs, _peer(7.0))
    assert lines[-1].endswith("NOT MET")
    assert [line.split()[0] for line in lines[1:-1] if line.endswith("WORSE")] == ["select"]


def test_late_from_the_schedule_counts() -> None:
    # quick from the send, but the users waited longer than Dovecot's p99 from their schedule
    lines = goal_check(1.5, 900.0, [_run(3.0, sched_extra=5.0)], _peer(7.0))
    assert lines[-1].endswith("NOT MET")


def test_falling_behind_fails_whatever_the_latencies() -> None:
    late = int(GOAL_LATE_MAX * 1000) + 1
    lines = goal_check(1.5, 900.0, [_run(1.0, late=late)], _peer(7.0))
    assert "did NOT keep up" in lines[0] and lines[-1].endswith("NOT MET")
    ok = goal_check(1.5, 900.0, [_run(1.0, late=int(GOAL_LATE_MAX * 1000))], _peer(7.0))
    assert ok[-1].endswith(": MET")
