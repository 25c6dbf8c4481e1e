"""app.serve: process-wide settings a serving process applies before it serves anything."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import rongmail.app as app_module
from rongmail.config.settings import ServerSettings
from rongmail.core import procs
from rongmail.core.turns import share_interpreter


class _Stop(Exception):
    pass


def test_share_interpreter_sets_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    try:
        share_interpreter(0.0025)
        assert sys.getswitchinterval() == pytest.approx(0.0025)
    finally:
        sys.setswitchinterval(before)


async def test_serve_applies_the_configured_switch_interval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []

    async def close() -> None:
        closed.append(True)

    fake = SimpleNamespace(settings=SimpleNamespace(server=ServerSettings(switch_interval=0.0035)),
                           close=close)

    async def open_app(data_dir: Path) -> SimpleNamespace:
        return fake

    def follows_changes(settings: object) -> bool:
        raise _Stop  # stop right after the process-wide settings, before any listener

    monkeypatch.setattr(app_module, "open_app", open_app)
    monkeypatch.setattr(app_module, "follows_changes", follows_changes)
    monkeypatch.delenv(procs.WORKER_ENV, raising=False)  # the primary, not a worker
    before = sys.getswitchinterval()
    try:
        with pytest.raises(_Stop):
            await app_module.serve(tmp_path)
        assert sys.getswitchinterval() == pytest.approx(0.0035)
        assert closed == [True]
    finally:
        sys.setswitchinterval(before)
