"""Migration 0406 on a store that already has login history: the upgrade fills ``login_seen``
from the events (one row per kind of login, with its latest time), so no network or device an
account used before the upgrade counts as new after it (SQLite; the statement is the same SQL
on PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw

from rongmail.actions import accounts as acc
from rongmail.actions.context import ActionContext
from rongmail.bus import Bus
from rongmail.config.settings import Settings
from rongmail.store.fs.keys import KeyRing
from rongmail.store.sql import auth as sa
from rongmail.store.sqlite.meta import SqliteMeta


async def test_upgrade_fills_login_seen_from_the_events(tmp_path: Path) -> None:
    path = tmp_path / "meta.sqlite3"
    meta = SqliteMeta(path)
    await meta.open()
    ctx = ActionContext(meta=meta, blobs=None, bus=Bus(),  # type: ignore[arg-type]
                        keys=KeyRing(secrets.token_bytes(32)), settings=Settings())
    t = await acc.do_create_tenant(ctx, "demo")
    await acc.do_create_domain(ctx, t.id, "demo.test")
    user = await acc.do_create_account(ctx, "mig@demo.test", "Mig-pass-2026-x")

    def seed() -> Iterator[Any]:
        for at, net, outcome in ((100, "10.1.0.0/24", "success"), (300, "10.1.0.0/24", "success"),
                                 (200, "10.2.0.0/24", "success"), (250, "10.2.0.0/24", "failure"),
                                 (260, "10.3.0.0/24", "refused")):
            yield from sa.insert_login_event(user.id, at, "10.0.0.1", net, "CN", "d1", "imap",
                                             "password", outcome, 0, "CN-SC")

    await meta.write(seed())
    await meta.close()
    # back to the schema before 0406, with the events kept
    conn = apsw.Connection(str(path))
    conn.execute("DROP TABLE login_seen; DROP INDEX login_event_failure;"
                 " DELETE FROM schema_version WHERE version = 406")
    conn.close()

    meta = SqliteMeta(path)
    await meta.open()
    try:
        kinds = await meta.read(sa.login_history(user.id, 0))
        assert sorted((k.net, k.outcome, k.at, k.device, k.region) for k in kinds) == [
            ("10.1.0.0/24", "success", 300, "d1", "CN-SC"),
            ("10.2.0.0/24", "success", 200, "d1", "CN-SC"),
            ("10.3.0.0/24", "refused", 260, "d1", "CN-SC"),
        ]
        assert await meta.read(sa.failures_after(user.id, 0)) == 1
    finally:
        await meta.close()
