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
    from rongmail.store.inline_blobs import InlineBlobStore
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
    settings = Settings()
    # as app.open_app builds it: small delivered bodies in the metadata store, the rest in files
    blobs = InlineBlobStore(FsBlobStore(tmp_path / "blobs", keys), meta,  # type: ignore[arg-type]
                            inline_max=settings.storage.inline_blob_max)
    ctx = ActionContext(meta=meta, blobs=blobs, bus=Bus(), keys=keys,  # type: ignore[arg-type]
                        settings=settings)
    try:
        yield Stack(ctx, Reader(meta, blobs), request.param)  # type: ignore[arg-type]
    finally:
        if request.param == "postgres":
            await meta.drop_schema()  # type: ignore[attr-defined]
        await meta.close()  # type: ignore[attr-defined]


#: How ``make test`` spreads the suite over pytest-xdist workers (``-n``; the scheduler is
#: ``pytest_xdist_make_scheduler`` below). A *scope* runs whole, in order, in one worker:
#:
#: * ``XDIST_DIR_SCOPES``: a directory whose tests share session fixtures that must exist once,
#:   e.g. ``e2e/smtp`` (Knot, Postfix and the MTA-STS host on the fixed 127.0.0.31:443);
#: * ``XDIST_SPREAD``: directories of independent tests with function-scoped fixtures only
#:   (except the files in ``XDIST_FILE_SCOPED``), sent to workers one test at a time;
#: * anything else: one scope per file, so module-scoped fixtures (a server, a browser) start
#:   once, tests that build on a module fixture's state keep their order, and a browser closes
#:   with its module before its worker runs anything else.
XDIST_DIR_SCOPES = ("tests/e2e/smtp/",)
XDIST_SPREAD = ("tests/unit/", "tests/storage/", "tests/protocol/admin/")
XDIST_FILE_SCOPED = (
    "tests/unit/spam/test_clamd.py",
    "tests/unit/mailauth/test_mailauth_dkim.py",
    "tests/unit/mime/test_mime_parse.py",
)
#: Scheduling order (the collection order under xdist): long end-to-end scopes first, the many
#: short unit tests last, where they fill the workers' idle time at the end of the run.
XDIST_ORDER = ("tests/e2e/smtp/", "tests/e2e/", "tests/protocol/", "tests/cli/", "tests/fuzz/",
               "tests/corpus/", "tests/storage/", "tests/unit/")  # fmt: skip


def xdist_scope(nodeid: str) -> str:
    """The scheduling scope of a test (see ``XDIST_DIR_SCOPES``): a directory, its file, or
    the test itself."""
    path = nodeid.split("::", 1)[0]
    for d in XDIST_DIR_SCOPES:
        if path.startswith(d):
            return d
    if path.startswith(XDIST_SPREAD) and path not in XDIST_FILE_SCOPED:
        return nodeid
    return path


def _xdist_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, d in enumerate(XDIST_ORDER) if path.startswith(d)), len(XDIST_ORDER))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In one process: run browser tests last. Playwright's sync API keeps an event loop
    running on the main thread while a browser is open; if a fixture ever outlived its module,
    asyncio tests run after it would fail with "cannot be called from a running event loop".

    In an xdist worker: order the collection for scheduling (``XDIST_ORDER``). The browser
    fixture is module-scoped and a file never leaves its worker (``xdist_scope``), so the
    browser is closed before that worker runs anything else."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_xdist_rank)
    else:
        items.sort(key=lambda it: 1 if it.get_closest_marker("browser") else 0)


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist (dev extra) not installed: tests run in one process
    LoadScopeScheduling = None

if LoadScopeScheduling is not None:

    class SuiteScheduling(LoadScopeScheduling):  # type: ignore[misc,valid-type]
        """xdist's scope scheduler with this suite's scopes (``xdist_scope``). Not the stock
        ``--dist loadgroup``: with pytest 9 its ``xdist_group`` marks are not applied
        (pytest-xdist 3.8 renames ``item._nodeid``, which pytest 9 no longer reads)."""

        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") not in ("load", "loadfile", "loadscope", "loadgroup"):
            return None  # --dist each / worksteal: as asked
        config.option.loadscopereorder = False  # keep the XDIST_ORDER of the collection
        return SuiteScheduling(config, log)
