"""Identity and audit operations (migration 0006), sans-IO (ARCHITECTURE.md "Storage").

Invariants:

* ``audit_log`` is written only by :func:`append_audit` (one entry, chained to the locked head
  in the same transaction) and trimmed only by :func:`prune_audit` (which chains a record of the
  trim in the same transaction; a prune in batches chains one record per batch, so the chain
  verifies after every commit). Digests are computed here, from the key the caller passes; the
  key never enters SQL.
* ``session_info`` rows describe ``http_token`` sessions; a row whose token is gone (logout,
  expiry) is only history and :func:`purge_orphan_session_info` removes it.
* Secrets never reach this module in clear: app passwords and recovery codes arrive as SHA-256
  hex, TOTP secrets sealed under the tenant data key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rongmail.core.auditchain import entry_digest
from rongmail.errors import NotFound
from rongmail.store.sql.q import Op, Q, QMany, one, scalar

# -- audit log ----------------------------------------------------------------------------------

_AUDIT_COLS = ("seq, at, tenant_id, account_id, actor_id, category, action, outcome, remote,"
               " detail, prev, digest")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: int
    tenant_id: int | None
    account_id: int | None
    actor_id: int | None
    category: str
    action: str
    outcome: str
    remote: str
    detail: str  # canonical JSON text, exactly as chained
    prev: str
    digest: str

    def fields(self) -> dict[str, Any]:
        """The chained fields (everything but ``prev``/``digest``)."""
        return {"seq": self.seq, "at": self.at, "tenant_id": self.tenant_id,
                "account_id": self.account_id, "actor_id": self.actor_id,
                "category": self.category, "action": self.action, "outcome": self.outcome,
                "remote": self.remote, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class AuditHead:
    seq: int
    digest: str
    base_seq: int
    base_prev: str


def audit_head(*, lock: bool = False) -> Op[AuditHead]:
    sql = "SELECT seq, digest, base_seq, base_prev FROM audit_head WHERE id = 1"
    rows = yield Q(sql, (), pg=sql + (" FOR UPDATE" if lock else ""))
    return AuditHead(*rows[0])


def append_audit(key: bytes, *, category: str, action: str, outcome: str = "",
                 tenant_id: int | None = None, account_id: int | None = None,
                 actor_id: int | None = None, remote: str = "",
                 detail: dict[str, Any] | None = None, at: int | None = None
                 ) -> Op[AuditEntry]:
    """Append one chained entry. The head row is locked (PostgreSQL ``FOR UPDATE``; SQLite has
    one writer), and ``seq`` is the primary key, so concurrent appends cannot fork the chain."""
    head = yield from audit_head(lock=True)
    text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    entry = AuditEntry(head.seq + 1, int(time.time()) if at is None else at, tenant_id,
                       account_id, actor_id, category, action, outcome, remote, text,
                       head.digest, "")
    digest = entry_digest(key, head.digest, entry.fields())
    yield Q(f"INSERT INTO audit_log ({_AUDIT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.seq, entry.at, tenant_id, account_id, actor_id, category, action, outcome,
             remote, text, head.digest, digest))
    yield Q("UPDATE audit_head SET seq = ?, digest = ? WHERE id = 1", (entry.seq, digest))
    return replace(entry, digest=digest)


def audit_page(after_seq: int, limit: int = 1000) -> Op[list[AuditEntry]]:
    rows = yield Q(f"SELECT {_AUDIT_COLS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                   (after_seq, limit))
    return [AuditEntry(*r) for r in rows]


def search_audit(*, tenant_id: int | None = None, account_id: int | None = None,
                 category: str | None = None, since: int | None = None,
                 until: int | None = None, before_seq: int | None = None,
                 limit: int = 200) -> Op[list[AuditEntry]]:
    conds: list[str] = []
    params: list[Any] = []
    for col, val, op in (("tenant_id", tenant_id, "="), ("account_id", account_id, "="),
                         ("category", category, "="), ("at", since, ">="),
                         ("at", until, "<"), ("seq", before_seq, "<")):
        if val is not None:
            conds.append(f"{col} {op} ?")
            params.append(val)
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    rows = yield Q(f"SELECT {_AUDIT_COLS} FROM audit_log{where} ORDER BY seq DESC LIMIT ?",
                   (*params, limit))
    return [AuditEntry(*r) for r in rows]


#: entries removed per :func:`prune_audit` transaction by ``actions.auth.do_prune_audit``
AUDIT_PRUNE_BATCH = 5000


def audit_prune_end(before: int) -> Op[int | None]:
    """The ``seq`` of the newest entry older than ``before`` (unix time): a prune removes the
    chain's start up to it. None when no entry is that old."""
    return scalar((yield Q("SELECT MAX(seq) FROM audit_log WHERE at < ?", (before,))), None)


def prune_audit(key: bytes, before: int, *, actor_id: int | None = None,
                limit: int | None = None, last: int | None = None) -> Op[int]:
    """Delete entries from the chain's start up to the newest entry older than ``before`` (unix
    time; ``last`` is that entry's ``seq`` when the caller looked it up already,
    :func:`audit_prune_end`), at most ``limit`` of them (None: all), then chain an
    ``audit.pruned`` entry naming the new base; returns how many were removed.

    Each call leaves a verifiable chain on its own: the base it records is the entry after the
    last one deleted, and that record is chained in the same transaction that moves
    ``audit_head``'s base, so a prune cut into batches (or interrupted between two) verifies
    after every commit. The newest entry is never removed: the chain needs an anchor."""
    head = yield from audit_head(lock=True)
    if last is None:
        last = yield from audit_prune_end(before)
    if last is None:
        return 0
    end = last if limit is None else min(last, head.base_seq + limit - 1)
    if end < head.base_seq:
        return 0
    keep = one((yield Q("SELECT seq, prev FROM audit_log WHERE seq = ?", (end + 1,))))
    if keep is None:  # never prune the newest entry: the chain needs an anchor
        return 0
    removed = end - head.base_seq + 1
    yield Q("DELETE FROM audit_log WHERE seq <= ?", (end,))
    yield Q("UPDATE audit_head SET base_seq = ?, base_prev = ? WHERE id = 1", (keep[0], keep[1]))
    yield from append_audit(key, category="audit", action="audit.pruned", outcome="ok",
                            actor_id=actor_id,
                            detail={"base_seq": keep[0], "base_prev": keep[1],
                                    "removed": removed})
    return removed


# -- app passwords ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AppPasswordRow:
    id: int
    account_id: int
    name: str
    protocols: tuple[str, ...]
    created_at: int
    last_used_at: int
    last_ip: str


_AP_COLS = "id, account_id, name, protocols, created_at, last_used_at, last_ip"


def _ap(r: Sequence[Any]) -> AppPasswordRow:
    return AppPasswordRow(r[0], r[1], r[2], tuple(p for p in r[3].split(",") if p), *r[4:])


def insert_app_password(account_id: int, name: str, secret_hash: str,
                        protocols: Sequence[str], now: int) -> Op[AppPasswordRow]:
    rows = yield Q("INSERT INTO app_password (account_id, name, secret_hash, protocols,"
                   " created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                   (account_id, name, secret_hash, ",".join(protocols), now))
    return AppPasswordRow(rows[0][0], account_id, name, tuple(protocols), now, 0, "")


def app_password_by_hash(account_id: int, secret_hash: str) -> Op[AppPasswordRow | None]:
    r = one((yield Q(f"SELECT {_AP_COLS} FROM app_password WHERE account_id = ?"
                     " AND secret_hash = ?", (account_id, secret_hash))))
    return _ap(r) if r else None


def list_app_passwords(account_id: int) -> Op[list[AppPasswordRow]]:
    rows = yield Q(f"SELECT {_AP_COLS} FROM app_password WHERE account_id = ? ORDER BY id",
                   (account_id,))
    return [_ap(r) for r in rows]


def touch_app_password(ap_id: int, now: int, ip: str) -> Op[None]:
    yield Q("UPDATE app_password SET last_used_at = ?, last_ip = ? WHERE id = ?", (now, ip, ap_id))


def delete_app_password(account_id: int, ap_id: int) -> Op[None]:
    rows = yield Q("DELETE FROM app_password WHERE account_id = ? AND id = ? RETURNING id",
                   (account_id, ap_id))
    if not rows:
        raise NotFound(what="app password")


def delete_app_passwords(account_id: int) -> Op[int]:
    rows = yield Q("DELETE FROM app_password WHERE account_id = ? RETURNING id", (account_id,))
    return len(rows)


# -- TOTP and recovery codes --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TotpRow:
    account_id: int
    secret_enc: bytes
    key_version: int
    confirmed: bool
    last_step: int


def totp(account_id: int) -> Op[TotpRow | None]:
    r = one((yield Q("SELECT account_id, secret_enc, key_version, confirmed, last_step"
                     " FROM totp_secret WHERE account_id = ?", (account_id,))))
    return TotpRow(r[0], bytes(r[1]), r[2], bool(r[3]), r[4]) if r else None


def put_totp(account_id: int, secret_enc: bytes, key_version: int, now: int) -> Op[None]:
    yield Q("INSERT INTO totp_secret (account_id, secret_enc, key_version, confirmed, last_step,"
            " created_at) VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (account_id) DO UPDATE SET"
            " secret_enc = excluded.secret_enc, key_version = excluded.key_version,"
            " confirmed = 0, last_step = 0, created_at = excluded.created_at",
            (account_id, secret_enc, key_version, now))


def accept_totp_step(account_id: int, step: int, *, confirm: bool = False) -> Op[bool]:
    """Record ``step`` as used if it is newer than the last accepted one (no replay)."""
    extra = ", confirmed = 1" if confirm else ""
    rows = yield Q(f"UPDATE totp_secret SET last_step = ?{extra} WHERE account_id = ?"
                   " AND last_step < ? RETURNING account_id", (step, account_id, step))
    return bool(rows)


def delete_totp(account_id: int) -> Op[None]:
    yield Q("DELETE FROM totp_secret WHERE account_id = ?", (account_id,))
    yield Q("DELETE FROM recovery_code WHERE account_id = ?", (account_id,))


def replace_recovery_codes(account_id: int, hashes: Sequence[str]) -> Op[None]:
    yield Q("DELETE FROM recovery_code WHERE account_id = ?", (account_id,))
    yield QMany("INSERT INTO recovery_code (account_id, code_hash) VALUES (?, ?)",
                [(account_id, h) for h in hashes])


def use_recovery_code(account_id: int, code_hash: str, now: int) -> Op[bool]:
    rows = yield Q("UPDATE recovery_code SET used_at = ? WHERE account_id = ? AND code_hash = ?"
                   " AND used_at IS NULL RETURNING account_id", (now, account_id, code_hash))
    return bool(rows)


def recovery_codes_left(account_id: int) -> Op[int]:
    return int(scalar((yield Q("SELECT COUNT(*) FROM recovery_code WHERE account_id = ?"
                               " AND used_at IS NULL", (account_id,))), 0))


# -- login history (risk signals) ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoginEventRow:
    at: int
    ip: str
    net: str
    country: str
    device: str
    protocol: str
    method: str
    outcome: str
    region: str = ""  # CC-SUB from the region GeoIP databases (migration 0106)


def insert_login_event(account_id: int, at: int, ip: str, net: str, country: str, device: str,
                       protocol: str, method: str, outcome: str, score: int,
                       region: str = "") -> Op[None]:
    """Record one login and, for a success or refusal (what scoring reads as history,
    :data:`HISTORY_OUTCOMES`), bring its kind's ``login_seen`` row (migration 0406) up to date
    in the caller's transaction, so the summary never disagrees with the events. Failures are
    only counted (:func:`failures_after`): a password spray from many networks writes no
    kinds."""
    yield Q("INSERT INTO login_event (account_id, at, ip, net, country, device, protocol, method,"
            " outcome, score, region) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, at, ip, net, country, device, protocol, method, outcome, score,
             region))
    if outcome not in HISTORY_OUTCOMES:
        return
    yield Q("INSERT INTO login_seen (account_id, outcome, net, country, region, device, last_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, outcome, net, country, region,"
            " device) DO UPDATE SET last_at = CASE WHEN excluded.last_at > login_seen.last_at"
            " THEN excluded.last_at ELSE login_seen.last_at END",
            (account_id, outcome, net, country, region, device, at))


def login_events(account_id: int, since: int, limit: int = 500) -> Op[list[LoginEventRow]]:
    rows = yield Q("SELECT at, ip, net, country, device, protocol, method, outcome, region"
                   " FROM login_event WHERE account_id = ? AND at >= ? ORDER BY at DESC LIMIT ?",
                   (account_id, since, limit))
    return [LoginEventRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class LoginSeen:
    """One kind of login the account had (a ``login_seen`` row): outcome, network, country,
    region and device, with ``at`` the latest time of such a login. Every risk signal that
    reads the history only asks whether such a login exists and how recent the latest is, so
    these rows decide exactly as the events they summarize would."""

    at: int
    net: str
    country: str
    device: str
    outcome: str
    region: str


#: the outcomes risk scoring reads as history (failures are only counted, :func:`failures_after`)
HISTORY_OUTCOMES = ("success", "refused")


def login_history(account_id: int, since: int, limit: int = 500) -> Op[list[LoginSeen]]:
    """The kinds of successful and refused login the account had at or after ``since``, the
    latest ``limit`` of them (a bound on what one login reads; an account reaches it only with
    hundreds of distinct networks and devices in its window). Primary-key range reads on
    ``login_seen``: the cost follows the kinds of login, not their number."""
    rows = yield Q("SELECT last_at, net, country, device, outcome, region FROM login_seen"
                   " WHERE account_id = ? AND outcome IN (?, ?) AND last_at >= ?"
                   " ORDER BY last_at DESC LIMIT ?",
                   (account_id, *HISTORY_OUTCOMES, since, limit))
    return [LoginSeen(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def failures_after(account_id: int, after: int) -> Op[int]:
    """How many failed logins the account had after ``after`` (the partial index
    ``login_event_failure``: successes cost this count nothing)."""
    return int(scalar((yield Q("SELECT COUNT(*) FROM login_event WHERE account_id = ?"
                               " AND outcome = 'failure' AND at > ?", (account_id, after))), 0))


def accounts_from_ip(ip: str, since: int) -> Op[int]:
    """How many distinct accounts have a login event from ``ip`` at or after ``since``.

    A loose index scan over ``login_event (ip, account_id, at)`` (migration 0306): the
    recursive part steps from one account id to the next with one index seek each, and each
    account is counted when one more seek finds an event of it in the window. The cost grows
    with the number of accounts that used the IP, not with the number of their logins (an
    office behind one NAT address logs in thousands of times an hour). The same query runs on
    SQLite and PostgreSQL (``MIN`` over an index prefix is one seek on both)."""
    rows = yield Q(
        "WITH RECURSIVE seen(account_id) AS ("
        " SELECT MIN(account_id) FROM login_event WHERE ip = ?"
        " UNION ALL"
        " SELECT (SELECT MIN(e.account_id) FROM login_event e WHERE e.ip = ?"
        "         AND e.account_id > seen.account_id)"
        " FROM seen WHERE seen.account_id IS NOT NULL)"
        " SELECT COUNT(*) FROM seen WHERE seen.account_id IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM login_event w WHERE w.ip = ? AND w.account_id = seen.account_id"
        " AND w.at >= ?)",
        (ip, ip, ip, since))
    return int(scalar(rows, 0))


#: events deleted per :func:`purge_login_history` transaction
PURGE_BATCH = 5000


def purge_login_history(before: int, limit: int = PURGE_BATCH) -> Op[int]:
    """Forget logins older than ``before``: at most ``limit`` events (the oldest first: ids
    follow insertion, so the scan stops early) and every ``login_seen`` kind whose latest
    login is that old. Returns the events deleted; a caller repeats while it is ``limit``."""
    rows = yield Q("DELETE FROM login_event WHERE id IN (SELECT id FROM login_event"
                   " WHERE at < ? ORDER BY id LIMIT ?) RETURNING 1", (before, limit))
    yield Q("DELETE FROM login_seen WHERE last_at < ?", (before,))
    return len(rows)


# -- account state ------------------------------------------------------------------------------

def frozen(account_id: int) -> Op[tuple[int, str] | None]:
    r = one((yield Q("SELECT frozen_at, frozen_reason FROM account_security WHERE account_id = ?"
                     " AND frozen_at IS NOT NULL", (account_id,))))
    return (r[0], r[1]) if r else None


def set_frozen(account_id: int, at: int | None, reason: str, *, now: int = 0) -> Op[None]:
    """Freeze (``at`` set) or unfreeze (``at`` None; ``now`` becomes the risk reset time)."""
    yield Q("INSERT INTO account_security (account_id, frozen_at, frozen_reason, reset_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET"
            " frozen_at = excluded.frozen_at, frozen_reason = excluded.frozen_reason,"
            " reset_at = CASE WHEN excluded.frozen_at IS NULL THEN excluded.reset_at"
            " ELSE account_security.reset_at END", (account_id, at, reason, now))


def risk_reset_at(account_id: int) -> Op[int]:
    return int(scalar((yield Q("SELECT reset_at FROM account_security WHERE account_id = ?",
                               (account_id,))), 0))


# -- sessions -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    account_id: int
    token_hash: str
    ip: str
    user_agent: str
    country: str
    method: str
    created_at: int
    last_seen: int
    expires_at: int


def put_session_info(token_hash: str, account_id: int, ip: str, user_agent: str, country: str,
                     method: str, now: int) -> Op[None]:
    yield Q("INSERT INTO session_info (token_hash, account_id, ip, user_agent, country, method,"
            " created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (token_hash, account_id, ip, user_agent[:300], country, method, now, now))


def touch_session(token_hash: str, ip: str, now: int) -> Op[None]:
    yield Q("UPDATE session_info SET last_seen = ?, ip = ? WHERE token_hash = ?",
            (now, ip, token_hash))


def sessions(account_id: int, now: int) -> Op[list[SessionRow]]:
    rows = yield Q(
        "SELECT t.id, t.account_id, t.token_hash, COALESCE(s.ip, ''), COALESCE(s.user_agent,"
        " t.name), COALESCE(s.country, ''), COALESCE(s.method, ''), t.created_at,"
        " COALESCE(s.last_seen, t.last_used_at), t.expires_at FROM http_token t"
        " LEFT JOIN session_info s ON s.token_hash = t.token_hash"
        " WHERE t.account_id = ? AND t.kind = 'session' AND t.expires_at > ? ORDER BY t.id",
        (account_id, now))
    return [SessionRow(*r) for r in rows]


def revoke_session(account_id: int, session_id: int, *, wipe: bool, now: int) -> Op[str]:
    """Delete one web session of ``account_id``; returns its token hash."""
    r = one((yield Q("SELECT token_hash FROM http_token WHERE id = ? AND account_id = ?"
                     " AND kind = 'session'", (session_id, account_id))))
    if r is None:
        raise NotFound(what="session")
    yield from _drop_sessions([r[0]], account_id, wipe=wipe, now=now)
    return str(r[0])


def revoke_all_sessions(account_id: int, *, wipe: bool, now: int,
                        keep: str | None = None) -> Op[list[str]]:
    rows = yield Q("SELECT token_hash FROM http_token WHERE account_id = ? AND kind = 'session'",
                   (account_id,))
    hashes = [r[0] for r in rows if r[0] != keep]
    yield from _drop_sessions(hashes, account_id, wipe=wipe, now=now)
    return hashes


def _drop_sessions(hashes: list[str], account_id: int, *, wipe: bool, now: int) -> Op[None]:
    yield QMany("DELETE FROM http_token WHERE token_hash = ?", [(h,) for h in hashes])
    yield QMany("DELETE FROM session_info WHERE token_hash = ?", [(h,) for h in hashes])
    if wipe:
        yield QMany("INSERT INTO session_wipe (token_hash, account_id, at) VALUES (?, ?, ?)"
                    " ON CONFLICT (token_hash) DO NOTHING",
                    [(h, account_id, now) for h in hashes])


def take_wipe(token_hash: str) -> Op[bool]:
    """True (once) if this session was signed out with a wipe request."""
    rows = yield Q("DELETE FROM session_wipe WHERE token_hash = ? RETURNING account_id",
                   (token_hash,))
    return bool(rows)


def is_wiped(token_hash: str) -> Op[bool]:
    return bool((yield Q("SELECT 1 FROM session_wipe WHERE token_hash = ?", (token_hash,))))


#: rows removed per session purge transaction (``actions.jmap.do_purge_expired_sessions``)
SESSION_PURGE_BATCH = 5000


def purge_orphan_session_info(limit: int = SESSION_PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` ``session_info`` rows whose ``http_token`` row is gone (signed
    out, expired and purged). A session's token commits before its ``session_info`` row
    (``do_create_token``, then ``do_record_session``), so a live session never loses its row;
    the token-hash lookup is the unique index of ``http_token``. Returns the rows deleted; a
    caller repeats while it is ``limit``."""
    rows = yield Q("DELETE FROM session_info WHERE token_hash IN (SELECT s.token_hash FROM"
                   " session_info s WHERE NOT EXISTS (SELECT 1 FROM http_token t"
                   " WHERE t.token_hash = s.token_hash) LIMIT ?) RETURNING 1", (limit,))
    return len(rows)


def purge_session_wipes(before: int, limit: int = SESSION_PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` pending wipe requests made before ``before``: once the cookie
    they wait for has expired in the browser (it lives ``SESSION_TTL`` from sign-in, which
    precedes the sign-out), no request can carry it again. Returns the rows deleted."""
    rows = yield Q("DELETE FROM session_wipe WHERE token_hash IN (SELECT token_hash FROM"
                   " session_wipe WHERE at < ? LIMIT ?) RETURNING 1", (before, limit))
    return len(rows)


# -- allowed networks ---------------------------------------------------------------------------

def allowed_networks(tenant_id: int) -> Op[list[tuple[str, str]]]:
    """(role, cidr) rows of a tenant; role '' applies to every role."""
    rows = yield Q("SELECT role, cidr FROM allowed_network WHERE tenant_id = ? ORDER BY role, cidr",
                   (tenant_id,))
    return [(r[0], r[1]) for r in rows]


def set_allowed_networks(tenant_id: int, role: str, cidrs: Sequence[str]) -> Op[None]:
    yield Q("DELETE FROM allowed_network WHERE tenant_id = ? AND role = ?", (tenant_id, role))
    yield QMany("INSERT INTO allowed_network (tenant_id, role, cidr) VALUES (?, ?, ?)",
                [(tenant_id, role, c) for c in cidrs])



# -- external identities (LDAP, OIDC) -----------------------------------------------------------

def external_identity(account_id: int, provider_prefix: str) -> Op[tuple[str, str] | None]:
    """(provider, subject) of an account linked to a provider starting with the prefix."""
    r = one((yield Q("SELECT provider, subject FROM external_identity WHERE account_id = ?"
                     " AND provider LIKE ? ORDER BY provider LIMIT 1",
                     (account_id, provider_prefix + "%"))))
    return (r[0], r[1]) if r else None


def account_for_identity(provider: str, subject: str) -> Op[int | None]:
    r = one((yield Q("SELECT account_id FROM external_identity WHERE provider = ? AND subject = ?",
                     (provider, subject))))
    return int(r[0]) if r else None


def link_identity(provider: str, subject: str, account_id: int, now: int) -> Op[None]:
    yield Q("INSERT INTO external_identity (provider, subject, account_id, synced_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (provider, subject) DO UPDATE SET"
            " account_id = excluded.account_id, synced_at = excluded.synced_at",
            (provider, subject, account_id, now))


def linked_accounts(provider: str) -> Op[list[tuple[str, int]]]:
    rows = yield Q("SELECT subject, account_id FROM external_identity WHERE provider = ?",
                   (provider,))
    return [(r[0], int(r[1])) for r in rows]


def unlink_identity(provider: str, subject: str) -> Op[None]:
    yield Q("DELETE FROM external_identity WHERE provider = ? AND subject = ?",
            (provider, subject))


# -- passkeys (WebAuthn) ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PasskeyRow:
    id: int
    account_id: int
    credential_id: str
    public_key: bytes
    sign_count: int
    transports: tuple[str, ...]
    name: str
    created_at: int
    last_used_at: int


_PK_COLS = ("id, account_id, credential_id, public_key, sign_count, transports, name,"
            " created_at, last_used_at")


def _pk(r: Sequence[Any]) -> PasskeyRow:
    return PasskeyRow(r[0], r[1], r[2], bytes(r[3]), r[4],
                      tuple(t for t in r[5].split(",") if t), r[6], r[7], r[8])


def insert_passkey(account_id: int, credential_id: str, public_key: bytes, sign_count: int,
                   transports: Sequence[str], name: str, aaguid: str, now: int
                   ) -> Op[PasskeyRow]:
    rows = yield Q("INSERT INTO webauthn_credential (account_id, credential_id, public_key,"
                   " sign_count, transports, name, aaguid, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                   (account_id, credential_id, public_key, sign_count, ",".join(transports),
                    name, aaguid, now))
    return PasskeyRow(rows[0][0], account_id, credential_id, public_key, sign_count,
                      tuple(transports), name, now, 0)


def passkeys(account_id: int) -> Op[list[PasskeyRow]]:
    rows = yield Q(f"SELECT {_PK_COLS} FROM webauthn_credential WHERE account_id = ?"
                   " ORDER BY id", (account_id,))
    return [_pk(r) for r in rows]


def passkey_by_credential(credential_id: str) -> Op[PasskeyRow | None]:
    r = one((yield Q(f"SELECT {_PK_COLS} FROM webauthn_credential WHERE credential_id = ?",
                     (credential_id,))))
    return _pk(r) if r else None


def use_passkey(pk_id: int, old_count: int, new_count: int, now: int) -> Op[bool]:
    """Store the new signature counter; False if another login raced us (counter moved)."""
    rows = yield Q("UPDATE webauthn_credential SET sign_count = ?, last_used_at = ?"
                   " WHERE id = ? AND sign_count = ? RETURNING id",
                   (new_count, now, pk_id, old_count))
    return bool(rows)


def delete_passkey(account_id: int, pk_id: int) -> Op[None]:
    rows = yield Q("DELETE FROM webauthn_credential WHERE account_id = ? AND id = ? RETURNING id",
                   (account_id, pk_id))
    if not rows:
        raise NotFound(what="passkey")
