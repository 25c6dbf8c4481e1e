"""Admin operations (migration 0007): roles and scopes, sensitive groups, tenant settings,
password policy, DKIM keys, DNS provider credentials, wizard-owned records, the audit log.

Invariants: every write op that changes what an admin may see or do also appends one
``admin_audit`` row in the same transaction (:func:`audit`); secrets arrive already encrypted
(the action layer holds the tenant keys, this module never sees plaintext).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rongmail.core.models import Account, Tenant
from rongmail.errors import NotFound
from rongmail.store.sql import directory as d
from rongmail.store.sql.q import Op, Q, one


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    at: int
    actor_id: int | None
    tenant_id: int | None
    action: str
    target: str
    detail: dict[str, Any]
    remote: str


@dataclass(frozen=True, slots=True)
class PolicyRow:
    min_length: int
    min_classes: int
    max_age_days: int
    history: int


@dataclass(frozen=True, slots=True)
class DkimKeyRow:
    id: int
    domain_id: int
    selector: str
    algorithm: str
    public_txt: str
    private_enc: bytes
    key_version: int
    state: str
    created_at: int
    retire_at: int | None


@dataclass(frozen=True, slots=True)
class ProviderRow:
    domain_id: int
    kind: str
    endpoint: str
    credentials_enc: bytes
    key_version: int


@dataclass(frozen=True, slots=True)
class SensitiveGroupRow:
    alias_id: int
    tenant_id: int
    address: str
    label: str


# -- audit --------------------------------------------------------------------------------------

def audit(actor_id: int | None, tenant_id: int | None, action: str, target: str = "",
          detail: dict[str, Any] | None = None, remote: str = "") -> Op[None]:
    yield Q(
        "INSERT INTO admin_audit (at, actor_id, tenant_id, action, target, detail, remote)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (int(time.time()), actor_id, tenant_id, action, target,
         json.dumps(detail or {}, ensure_ascii=False), remote),
    )


#: ``admin_audit`` rows deleted per :func:`prune_audit` transaction
AUDIT_PURGE_BATCH = 5000


def prune_audit(before: int, limit: int = AUDIT_PURGE_BATCH) -> Op[int]:
    """Delete at most ``limit`` admin audit rows written before ``before`` (unix seconds), the
    oldest first (ids follow insertion, so the scan in id order stops early); returns how many,
    and a caller repeats while it is ``limit``.

    The table is a plain list (no hash chain, unlike ``audit_log``), so removing its oldest
    rows leaves nothing to re-link; the retention floor is the action's job."""
    rows = yield Q("DELETE FROM admin_audit WHERE id IN (SELECT id FROM admin_audit"
                   " WHERE at < ? ORDER BY id LIMIT ?) RETURNING 1", (before, limit))
    return len(rows)


def list_audit(tenant_id: int | None, *, before_id: int | None = None,
               limit: int = 200) -> Op[list[AuditRow]]:
    conds, params = [], []  # type: ignore[var-annotated]
    if tenant_id is not None:
        conds.append("tenant_id = ?")
        params.append(tenant_id)
    if before_id is not None:
        conds.append("id < ?")
        params.append(before_id)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    rows = yield Q(
        "SELECT id, at, actor_id, tenant_id, action, target, detail, remote FROM admin_audit"
        f"{where} ORDER BY id DESC LIMIT ?", (*params, limit))
    return [AuditRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"), r[7])
            for r in rows]


# -- roles and scopes ---------------------------------------------------------------------------

def set_role(account_id: int, role: str, domain_ids: Sequence[int]) -> Op[None]:
    rows = yield Q("UPDATE account SET role = ? WHERE id = ? RETURNING id", (role, account_id))
    if not rows:
        raise NotFound(what=f"account {account_id}")
    yield Q("DELETE FROM admin_scope WHERE account_id = ?", (account_id,))
    for dom in sorted(set(domain_ids)):
        yield Q("INSERT INTO admin_scope (account_id, domain_id) VALUES (?, ?)",
                (account_id, dom))


def scope_domains(account_id: int) -> Op[list[int]]:
    rows = yield Q("SELECT domain_id FROM admin_scope WHERE account_id = ? ORDER BY domain_id",
                   (account_id,))
    return [int(r[0]) for r in rows]


# -- sensitive groups ---------------------------------------------------------------------------

def set_sensitive(alias_id: int, tenant_id: int, label: str, sensitive: bool) -> Op[None]:
    if sensitive:
        yield Q(
            "INSERT INTO sensitive_group (alias_id, tenant_id, label, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (alias_id) DO UPDATE SET label = excluded.label",
            (alias_id, tenant_id, label, int(time.time())))
    else:
        yield Q("DELETE FROM sensitive_group WHERE alias_id = ?", (alias_id,))


def sensitive_groups(tenant_id: int | None = None) -> Op[list[SensitiveGroupRow]]:
    sql = ("SELECT s.alias_id, s.tenant_id, a.address, s.label FROM sensitive_group s"
           " JOIN alias a ON a.id = s.alias_id")
    params: tuple[Any, ...] = ()
    if tenant_id is not None:
        sql += " WHERE s.tenant_id = ?"
        params = (tenant_id,)
    rows = yield Q(sql + " ORDER BY a.address", params)
    return [SensitiveGroupRow(r[0], r[1], r[2], r[3]) for r in rows]


def is_sensitive_member(address: str) -> Op[bool]:
    """True when ``address`` is a member of any sensitive group."""
    rows = yield Q(
        "SELECT 1 FROM alias_member m JOIN sensitive_group s ON s.alias_id = m.alias_id"
        " WHERE m.member = ? LIMIT 1", (address,))
    return bool(rows)


# -- tenants ------------------------------------------------------------------------------------

def update_tenant(tenant_id: int, *, display_name: str | None, quota_bytes: int | None,
                  max_accounts: int | None, features: dict[str, Any] | None) -> Op[Tenant]:
    cur = yield from d.get_tenant(tenant_id)
    if cur is None:
        raise NotFound(what=f"tenant {tenant_id}")
    yield Q(
        "UPDATE tenant SET display_name = ?, quota_bytes = ?, max_accounts = ?, features = ?"
        " WHERE id = ?",
        (cur.display_name if display_name is None else display_name,
         cur.quota_bytes if quota_bytes is None else quota_bytes,
         cur.max_accounts if max_accounts is None else max_accounts,
         json.dumps(cur.features if features is None else features), tenant_id))
    new = yield from d.get_tenant(tenant_id)
    if new is None:  # deleted concurrently: cannot happen inside this transaction
        raise NotFound(what=f"tenant {tenant_id}")
    return new


def tenant_usage(tenant_id: int) -> Op[tuple[int, int]]:
    """(accounts, used bytes) of a tenant."""
    r = one((yield Q("SELECT COUNT(*), COALESCE(SUM(used_bytes), 0) FROM account"
                     " WHERE tenant_id = ?", (tenant_id,))))
    return (int(r[0]), int(r[1])) if r else (0, 0)


def set_account_quota(account_id: int, quota_bytes: int) -> Op[None]:
    yield Q("UPDATE account SET quota_bytes = ? WHERE id = ?", (quota_bytes, account_id))


# -- password policy ----------------------------------------------------------------------------

def get_policy(tenant_id: int) -> Op[PolicyRow | None]:
    r = one((yield Q("SELECT min_length, min_classes, max_age_days, history FROM password_policy"
                     " WHERE tenant_id = ?", (tenant_id,))))
    return PolicyRow(*r) if r else None


def put_policy(tenant_id: int, p: PolicyRow) -> Op[None]:
    yield Q(
        "INSERT INTO password_policy (tenant_id, min_length, min_classes, max_age_days, history,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
        " min_length = excluded.min_length, min_classes = excluded.min_classes,"
        " max_age_days = excluded.max_age_days, history = excluded.history,"
        " updated_at = excluded.updated_at",
        (tenant_id, p.min_length, p.min_classes, p.max_age_days, p.history, int(time.time())))


# -- delegation ---------------------------------------------------------------------------------

def grant_mailbox(owner: Account, grantee: Account, rights: str) -> Op[None]:
    """Whole-account delegation (mailbox_id 0 = every mailbox, RFC 4314 rights string)."""
    yield Q(
        "INSERT INTO acl (owner_id, mailbox_id, grantee_id, rights) VALUES (?, 0, ?, ?)"
        " ON CONFLICT (owner_id, mailbox_id, grantee_id) DO UPDATE SET rights = excluded.rights",
        (owner.id, grantee.id, rights))


# -- DKIM keys ----------------------------------------------------------------------------------

_DKIM_COLS = ("id, domain_id, selector, algorithm, public_txt, private_enc, key_version, state,"
              " created_at, retire_at")


def add_dkim_key(domain_id: int, selector: str, algorithm: str, public_txt: str,
                 private_enc: bytes, key_version: int) -> Op[DkimKeyRow]:
    rows = yield Q(
        "INSERT INTO dkim_key (domain_id, selector, algorithm, public_txt, private_enc,"
        " key_version, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'active', ?)"
        f" RETURNING {_DKIM_COLS}",
        (domain_id, selector, algorithm, public_txt, private_enc, key_version,
         int(time.time())))
    return _dkim(rows[0])


def retire_dkim_keys(domain_id: int, algorithm: str, retire_at: int) -> Op[None]:
    yield Q("UPDATE dkim_key SET state = 'retiring', retire_at = ? WHERE domain_id = ?"
            " AND algorithm = ? AND state = 'active'", (retire_at, domain_id, algorithm))


def dkim_keys(domain_id: int, now: int) -> Op[list[DkimKeyRow]]:
    """Active keys and retiring keys still inside their overlap window."""
    rows = yield Q(
        f"SELECT {_DKIM_COLS} FROM dkim_key WHERE domain_id = ? AND (state = 'active'"
        " OR retire_at > ?) ORDER BY id", (domain_id, now))
    return [_dkim(r) for r in rows]


def _dkim(r: tuple) -> DkimKeyRow:  # type: ignore[type-arg]
    return DkimKeyRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7], r[8], r[9])


# -- DNS providers and owned records ------------------------------------------------------------

def put_provider(domain_id: int, kind: str, endpoint: str, credentials_enc: bytes,
                 key_version: int) -> Op[None]:
    yield Q(
        "INSERT INTO dns_provider (domain_id, kind, endpoint, credentials_enc, key_version,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain_id) DO UPDATE SET"
        " kind = excluded.kind, endpoint = excluded.endpoint,"
        " credentials_enc = excluded.credentials_enc, key_version = excluded.key_version,"
        " updated_at = excluded.updated_at",
        (domain_id, kind, endpoint, credentials_enc, key_version, int(time.time())))


def get_provider(domain_id: int) -> Op[ProviderRow | None]:
    r = one((yield Q("SELECT domain_id, kind, endpoint, credentials_enc, key_version"
                     " FROM dns_provider WHERE domain_id = ?", (domain_id,))))
    return ProviderRow(r[0], r[1], r[2], bytes(r[3]), r[4]) if r else None


def get_wizard(domain_id: int) -> Op[dict[str, Any] | None]:
    r = one((yield Q("SELECT input FROM dns_wizard WHERE domain_id = ?", (domain_id,))))
    return json.loads(r[0]) if r else None


def put_wizard(domain_id: int, data: dict[str, Any]) -> Op[None]:
    yield Q("INSERT INTO dns_wizard (domain_id, input, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (domain_id) DO UPDATE SET input = excluded.input,"
            " updated_at = excluded.updated_at",
            (domain_id, json.dumps(data, sort_keys=True), int(time.time())))


def owned_records(domain_id: int) -> Op[set[tuple[str, str, str]]]:
    rows = yield Q("SELECT name, rtype, value FROM dns_owned WHERE domain_id = ?", (domain_id,))
    return {(r[0], r[1], r[2]) for r in rows}


def record_push(domain_id: int, added: Sequence[tuple[str, str, str]],
                removed: Sequence[tuple[str, str, str]]) -> Op[None]:
    now = int(time.time())
    for name, rtype, value in removed:
        yield Q("DELETE FROM dns_owned WHERE domain_id = ? AND name = ? AND rtype = ?"
                " AND value = ?", (domain_id, name, rtype, value))
    for name, rtype, value in added:
        yield Q("INSERT INTO dns_owned (domain_id, name, rtype, value, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (domain_id, name, rtype, value, now))
