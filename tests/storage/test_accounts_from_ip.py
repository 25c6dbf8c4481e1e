"""``store.sql.auth.accounts_from_ip`` (risk scoring: accounts seen from the client's IP in the
last hour), a loose index scan since migration 0306: the same answer as the plain
``COUNT(DISTINCT account_id)`` on both backends, and on SQLite the plan seeks the
``(ip, account_id, at)`` index instead of reading every login from the IP."""

from __future__ import annotations

import itertools

import pytest

from rongmail.actions import accounts as acc
from rongmail.store.sql import auth as sa
from rongmail.store.sql.q import Op, Q, scalar

NOW = 1_800_000_000
IPS = ("198.51.100.7", "198.51.100.8", "2001:db8::1")


def reference(ip: str, since: int) -> Op[int]:
    rows = yield Q("SELECT COUNT(DISTINCT account_id) FROM login_event WHERE ip = ? AND at >= ?",
                   (ip, since))
    return int(scalar(rows, 0))


def events(plan: list[tuple[int, str, int]]) -> Op[None]:
    for account_id, ip, at in plan:
        yield from sa.insert_login_event(account_id, at, ip, ip, "CN", "dev", "imap", "password",
                                         "success", 0, "")


async def test_counts_what_count_distinct_counts(stack) -> None:  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    ids = [(await acc.do_create_account(stack.ctx, f"u{i}@demo.test", "Secret-pass-123")).id
           for i in range(5)]
    plan: list[tuple[int, str, int]] = []
    # many logins of one account from one address (the case the index is for), others older,
    # on other addresses, or exactly at the window's edge
    plan += [(ids[0], IPS[0], NOW - k) for k in range(300)]
    plan += [(ids[1], IPS[0], NOW - 5000), (ids[2], IPS[0], NOW - 3600), (ids[2], IPS[1], NOW)]
    plan += [(ids[3], IPS[1], NOW - 10), (ids[4], IPS[2], NOW - 7200)]
    await stack.ctx.meta.write(events(plan))
    for ip, since in itertools.product((*IPS, "203.0.113.9"), (NOW - 3600, NOW - 6000, NOW + 1)):
        want = await stack.ctx.meta.read(reference(ip, since))
        got = await stack.ctx.meta.read(sa.accounts_from_ip(ip, since))
        assert got == want, (ip, since)
    assert await stack.ctx.meta.read(sa.accounts_from_ip(IPS[0], NOW - 3600)) == 2
    assert await stack.ctx.meta.read(sa.accounts_from_ip(IPS[0], NOW - 6000)) == 3


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
async def test_sqlite_plan_uses_the_ip_account_index(stack) -> None:  # type: ignore[no-untyped-def]
    op = sa.accounts_from_ip("198.51.100.7", NOW)
    q = next(op)
    op.close()

    def plan() -> Op[list[str]]:
        rows = yield Q("EXPLAIN QUERY PLAN " + q.sql, tuple(q.params))
        return [str(r[-1]) for r in rows]

    steps = await stack.ctx.meta.read(plan())
    assert any("login_event_ip_account" in s for s in steps), steps
    assert not any(s.startswith("SCAN") and "login_event" in s and "INDEX" not in s
                   for s in steps), steps
