"""Periodic re-probing of clamd/rspamd (issue 9): an auto-detected scanner is used from the
first probe it answers, a configured one always; one that disappears keeps being asked (so
messages get SCANNER_UNAVAILABLE) and each transition is logged once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from rongmail.services.spam.context import ScanContext, ScannerUnavailable
from rongmail.services.spam.scan import ProbedEngine
from rongmail.services.spam.tags import tag
from rongmail.workers.spam_scanners import probe_once, run_scanner_probe


class FakeClamd:
    """A scanner whose liveness the test switches; scanning while down raises."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.pings = 0

    async def available(self) -> bool:
        self.pings += 1
        return self.up

    async def scan(self, data: bytes) -> str | None:
        if not self.up:
            raise ScannerUnavailable("clamd: connection refused")
        return "Eicar" if b"EICAR" in data else None

    async def tags(self, raw: bytes, ctx: ScanContext) -> list[object]:
        if not self.up:
            raise ScannerUnavailable("rspamd: connection refused")
        return [tag("RSPAMD_SPAM", "x")]


class Broken:
    async def available(self) -> bool:
        raise RuntimeError("boom")


async def test_auto_detected_scanner_is_picked_up_later(caplog: pytest.LogCaptureFixture) -> None:
    engine = FakeClamd(up=False)
    probed = ProbedEngine(engine, configured=False, up=False)
    assert await probed.scan(b"EICAR") is None  # not in use: as if not configured
    assert await probed.tags(b"x", ScanContext()) == []
    engine.up = True
    with caplog.at_level(logging.WARNING):
        assert await probe_once([probed]) == [True]
    assert "detected" in caplog.text
    assert await probed.scan(b"EICAR") == "Eicar"
    assert [t.name for t in await probed.tags(b"x", ScanContext())] == ["RSPAMD_SPAM"]


async def test_disappearing_scanner_is_noted_and_still_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = FakeClamd(up=True)
    probed = ProbedEngine(engine, configured=False, up=True)
    engine.up = False
    with caplog.at_level(logging.WARNING):
        await probe_once([probed])
        await probe_once([probed])
    assert caplog.text.count("stopped answering") == 1  # once per transition
    with pytest.raises(ScannerUnavailable):  # -> SCANNER_UNAVAILABLE, as before
        await probed.scan(b"data")
    engine.up = True
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        await probe_once([probed])
    assert "answers again" in caplog.text and await probed.scan(b"EICAR") == "Eicar"


async def test_configured_scanner_is_always_asked() -> None:
    engine = FakeClamd(up=False)
    probed = ProbedEngine(engine, configured=True, up=False)
    with pytest.raises(ScannerUnavailable):
        await probed.scan(b"data")


async def test_probe_loop_runs_periodically_and_survives_errors() -> None:
    engine = FakeClamd(up=False)
    probed = ProbedEngine(engine, configured=False, up=False)
    broken = ProbedEngine(Broken(), configured=False, up=False)
    assert await probe_once([broken, probed]) == [False, False]
    task = asyncio.create_task(run_scanner_probe([broken, probed], every=0.01))
    await asyncio.sleep(0.01)
    engine.up = True
    for _ in range(200):
        if probed.in_use:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert probed.in_use and engine.pings >= 2  # one direct probe, then the loop
    # nothing to probe, or probing switched off: the worker returns at once
    await asyncio.wait_for(run_scanner_probe([], every=1), 1)
    await asyncio.wait_for(run_scanner_probe([probed], every=0), 1)
