"""Serving processes hand freed C heap back periodically (``core.heap.trim_forever``)."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from rongmail.core import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_glibc_has_malloc_trim() -> None:
    trim = heap._malloc_trim()
    assert trim is not None
    assert trim() in (0, 1)  # 1: memory was released, 0: none could be


async def test_trim_runs_periodically_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    monkeypatch.setattr(heap, "_malloc_trim", lambda: lambda: threads.append(threading.get_ident()))
    task = asyncio.create_task(heap.trim_forever(every=0.01))
    await asyncio.sleep(0.2)
    task.cancel()
    assert len(threads) >= 3
    assert threading.get_ident() not in threads


async def test_without_malloc_trim_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    await asyncio.wait_for(heap.trim_forever(every=0.01), 1)  # returns at once
