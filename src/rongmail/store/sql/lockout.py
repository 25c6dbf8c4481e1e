"""Brute-force throttling state and password age (migration 0106), sans-IO.

The decisions (how many failures lock, for how long) belong to
``services.auth.authenticate.ThrottlePolicy``; these operations only count and record, so that
every node of a PostgreSQL cluster and every restart of a single node sees the same state.

Invariants: :func:`record_failure` increments atomically (one ``INSERT ... ON CONFLICT DO
UPDATE``: two nodes failing the same pair at once both count); the
per-source row (``login = ''``) is only ever written by :func:`block_source`; times are unix
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from rongmail.store.sql.q import Op, Q, one, scalar

SOURCE_ROW = ""


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What a login attempt from ``source`` as ``login`` must respect."""

    source_blocked_until: int = 0
    pair_blocked_until: int = 0
    #: a pair row exists (a success must clear it)
    pair_failures: int = 0


@dataclass(frozen=True, slots=True)
class FailureRule:
    """The service's throttling policy in whole seconds (``ThrottlePolicy.rule()``)."""

    lock_after: int
    base_delay: int
    max_delay: int
    source_logins: int
    source_block: int
    forget_after: int

    def delay(self, failures: int) -> int:
        """Exponential back-off: ``base_delay`` at ``lock_after`` failures, doubling."""
        if failures < self.lock_after:
            return 0
        return min(self.max_delay, self.base_delay * 2 ** min(failures - self.lock_after, 30))


def state(login: str, source: str) -> Op[ThrottleState]:
    rows = yield Q(
        "SELECT login, failures, blocked_until FROM auth_throttle"
        " WHERE source = ? AND login IN (?, ?)",
        (source, SOURCE_ROW, login),
    )
    src = pair = failures = 0
    for who, n, until in rows:
        if who == SOURCE_ROW:
            src = int(until)
        else:
            pair, failures = int(until), int(n)
    return ThrottleState(src, pair, failures)


def record_failure(login: str, source: str, now: int, *, forget_before: int) -> Op[int]:
    """Count one failure of (login, source); returns the failures in the current run (a run
    restarts when the previous failure is older than ``forget_before``)."""
    rows = yield Q(
        "INSERT INTO auth_throttle (login, source, failures, last_at) VALUES (?, ?, 1, ?)"
        " ON CONFLICT (source, login) DO UPDATE SET"
        " failures = CASE WHEN auth_throttle.last_at < ? THEN 1"
        " ELSE auth_throttle.failures + 1 END, last_at = excluded.last_at"
        " RETURNING failures",
        (login, source, now, forget_before),
    )
    return int(scalar(rows, 1))


def fail(login: str, source: str, now: int, rule: FailureRule) -> Op[ThrottleState]:
    """One failed attempt, in one transaction: count it, block the pair once it failed
    ``lock_after`` times in a run, and block the whole source once ``source_logins`` distinct
    logins failed from it."""
    failures = yield from record_failure(login, source, now, forget_before=now - rule.forget_after)
    if failures >= rule.lock_after:
        yield from set_pair_block(login, source, now + rule.delay(failures))
    if (yield from failed_logins(source, now - rule.forget_after)) >= rule.source_logins:
        yield from block_source(source, now, now + rule.source_block)
    return (yield from state(login, source))


def set_pair_block(login: str, source: str, until: int) -> Op[None]:
    yield Q(
        "UPDATE auth_throttle SET blocked_until = ? WHERE source = ? AND login = ?",
        (until, source, login),
    )


def failed_logins(source: str, since: int) -> Op[int]:
    """Distinct login names that failed from ``source`` since ``since`` (spraying signal)."""
    return int(
        scalar(
            (
                yield Q(
                    "SELECT COUNT(*) FROM auth_throttle WHERE source = ?"
                    " AND login <> ? AND last_at >= ?",
                    (source, SOURCE_ROW, since),
                )
            ),
            0,
        )
    )


def block_source(source: str, now: int, until: int) -> Op[None]:
    yield Q(
        "INSERT INTO auth_throttle (login, source, failures, last_at, blocked_until)"
        " VALUES (?, ?, 0, ?, ?) ON CONFLICT (source, login) DO UPDATE SET"
        " last_at = excluded.last_at, blocked_until = excluded.blocked_until",
        (SOURCE_ROW, source, now, until),
    )


def clear_pair(login: str, source: str) -> Op[None]:
    yield Q("DELETE FROM auth_throttle WHERE source = ? AND login = ?", (source, login))


def clear_login(login: str) -> Op[int]:
    """Forget every counter and block of ``login`` from every source (an admin unlock);
    per-source spraying blocks stay. Returns the rows removed."""
    rows = yield Q("DELETE FROM auth_throttle WHERE login = ? RETURNING 1", (login,))
    return len(rows)


def purge(before: int, now: int) -> Op[int]:
    """Drop counters idle since ``before`` whose block (if any) has ended."""
    rows = yield Q(
        "DELETE FROM auth_throttle WHERE last_at < ? AND blocked_until <= ? RETURNING 1",
        (before, now),
    )
    return len(rows)


def blocked(source: str | None, now: int) -> Op[list[tuple[str, str, int, int]]]:
    """Blocks in force (``login`` '' = the whole source): (login, source, failures, until)."""
    if source is None:
        rows = yield Q(
            "SELECT login, source, failures, blocked_until FROM auth_throttle"
            " WHERE blocked_until > ? ORDER BY source, login",
            (now,),
        )
    else:
        rows = yield Q(
            "SELECT login, source, failures, blocked_until FROM auth_throttle"
            " WHERE source = ? AND blocked_until > ? ORDER BY login",
            (source, now),
        )
    return [(str(a), str(b), int(c), int(e)) for a, b, c, e in rows]


@dataclass(frozen=True, slots=True)
class Lockout:
    """One block in force, as the admin console lists it (``login`` '' = the whole source)."""

    login: str
    source: str
    failures: int
    blocked_until: int


def lockouts_in_scope(
    now: int, *, tenant_id: int | None, domain_ids: frozenset[int] | None = None
) -> Op[list[Lockout]]:
    """Blocks in force that an admin may see. ``tenant_id`` None = server-wide (a super admin):
    every row, per-source blocks and logins of no account included. Otherwise only the
    per-login blocks of that tenant's accounts (restricted to ``domain_ids`` when given, for a
    domain admin): a per-source block or an unknown login belongs to no tenant."""
    sql = (
        "SELECT t.login, t.source, t.failures, t.blocked_until FROM auth_throttle t"
        " LEFT JOIN account a ON a.address = LOWER(t.login) WHERE t.blocked_until > ?"
    )
    params: list[object] = [now]
    if tenant_id is not None:
        sql += " AND a.tenant_id = ?"
        params.append(tenant_id)
    if domain_ids is not None:
        ids = sorted(domain_ids) or [-1]
        sql += f" AND a.domain_id IN ({', '.join('?' * len(ids))})"
        params.extend(ids)
    rows = yield Q(sql + " ORDER BY t.blocked_until DESC, t.source, t.login", tuple(params))
    return [Lockout(str(a), str(b), int(c), int(e)) for a, b, c, e in rows]


# -- password age -------------------------------------------------------------------------------


def set_password_changed(account_id: int, now: int) -> Op[None]:
    yield Q(
        "INSERT INTO password_state (account_id, changed_at) VALUES (?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET changed_at = excluded.changed_at",
        (account_id, now),
    )


def password_changed_at(account_id: int) -> Op[int | None]:
    r = one((yield Q("SELECT changed_at FROM password_state WHERE account_id = ?", (account_id,))))
    return int(r[0]) if r else None
