"""Shared fixtures: locating ../shared/data, building a full storage stack per backend."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    env = os.environ.get("RONGMAIL_SHARED_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is absent (set RONGMAIL_SHARED_DATA); corpus test skipped")
    return d


PG_DSN = os.environ.get("RONGMAIL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Stack:
    ctx: Any
    reader: Any
    backend: str


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    """A full storage stack (ActionContext + Reader) on each backend."""
    from rongmail.actions.context import ActionContext
    from rongmail.bus import Bus
    from rongmail.config.settings import Settings
    from rongmail.store.fs.blobs import FsBlobStore
    from rongmail.store.fs.keys import KeyRing
    from rongmail.store.reader import Reader
    from rongmail.store.sql import directory as d

    keys = KeyRing(secrets.token_bytes(32))
    if request.param == "sqlite":
        from rongmail.store.sqlite.meta import SqliteMeta

        meta: object = SqliteMeta(tmp_path / "meta.sqlite3")
    else:
        if not postgres_available():
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 in CI")
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        from rongmail.store.postgres.meta import PostgresMeta

        meta = PostgresMeta(PG_DSN, schema=f"rmtest_{uuid.uuid4().hex[:12]}", max_size=8)
    await meta.open()  # type: ignore[attr-defined]
    keys.load(await meta.read(d.tenant_keys()))  # type: ignore[attr-defined]
    blobs = FsBlobStore(tmp_path / "blobs", keys)
    ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys,  # type: ignore[arg-type]
                        settings=Settings())
    try:
        yield Stack(ctx, Reader(meta, blobs), request.param)  # type: ignore[arg-type]
    finally:
        if request.param == "postgres":
            await meta.drop_schema()  # type: ignore[attr-defined]
        await meta.close()  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last. Playwright's sync API keeps an event loop running on the main
    thread while a browser is open; if a fixture ever outlived its module, asyncio tests run
    after it would fail with "cannot be called from a running event loop"."""
    items.sort(key=lambda it: 1 if it.get_closest_marker("browser") else 0)
