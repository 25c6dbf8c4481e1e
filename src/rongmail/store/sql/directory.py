"""Directory operations: tenants, domains, accounts, aliases, groups, tenant keys.

Invariants: addresses and domain names arrive already normalised (``core.address``); every
mutation of an account bumps nothing in the mail change log except where noted (directory changes
are audited by the identity layer, not synced to mail clients).
"""

from __future__ import annotations

import json
import time

from rongmail.core.models import Account, Alias, Domain, Tenant
from rongmail.errors import AlreadyExists, NotFound
from rongmail.store.sql import lockout
from rongmail.store.sql.q import Op, Q, one

_TENANT_COLS = "id, name, display_name, quota_bytes, max_accounts, features, disabled, created_at"
_DOMAIN_COLS = "id, tenant_id, name, alias_of, catch_all, disabled, created_at"
ACCOUNT_COLS = (
    "id, tenant_id, domain_id, address, display_name, kind, role, password_hash, quota_bytes, "
    "used_bytes, disabled, modseq, locale, timezone, created_at"
)


def _tenant(r: tuple) -> Tenant:  # type: ignore[type-arg]
    return Tenant(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}"), bool(r[6]), r[7])


def _domain(r: tuple) -> Domain:  # type: ignore[type-arg]
    return Domain(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6])


def account_row(r: tuple) -> Account:  # type: ignore[type-arg]
    return Account(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], bool(r[10]), r[11], r[12],
        r[13], r[14],
    )


# -- tenants ------------------------------------------------------------------------------------

def create_tenant(
    name: str, display_name: str, quota_bytes: int, max_accounts: int, features: dict[str, object]
) -> Op[Tenant]:
    if (yield Q("SELECT 1 FROM tenant WHERE name = ?", (name,))):
        raise AlreadyExists(what=name)
    rows = yield Q(
        "INSERT INTO tenant (name, display_name, quota_bytes, max_accounts, features, created_at)"
        f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {_TENANT_COLS}",
        (name, display_name, quota_bytes, max_accounts, json.dumps(features), int(time.time())),
    )
    return _tenant(rows[0])


def get_tenant(tenant_id: int) -> Op[Tenant | None]:
    r = one((yield Q(f"SELECT {_TENANT_COLS} FROM tenant WHERE id = ?", (tenant_id,))))
    return _tenant(r) if r else None


def get_tenant_by_name(name: str) -> Op[Tenant | None]:
    r = one((yield Q(f"SELECT {_TENANT_COLS} FROM tenant WHERE name = ?", (name,))))
    return _tenant(r) if r else None


def list_tenants() -> Op[list[Tenant]]:
    return [_tenant(r) for r in (yield Q(f"SELECT {_TENANT_COLS} FROM tenant ORDER BY id"))]


def add_tenant_key(tenant_id: int, version: int, wrapped: bytes, master_id: str) -> Op[None]:
    yield Q(
        "INSERT INTO tenant_key (tenant_id, version, wrapped, master_id, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (tenant_id, version, wrapped, master_id, int(time.time())),
    )


def tenant_keys(tenant_id: int | None = None) -> Op[list[tuple[int, int, bytes, str]]]:
    """(tenant_id, version, wrapped, master_id) for one tenant or all."""
    if tenant_id is None:
        rows = yield Q("SELECT tenant_id, version, wrapped, master_id FROM tenant_key")
    else:
        rows = yield Q(
            "SELECT tenant_id, version, wrapped, master_id FROM tenant_key WHERE tenant_id = ?",
            (tenant_id,),
        )
    return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]


def rewrap_tenant_key(tenant_id: int, version: int, wrapped: bytes, master_id: str) -> Op[None]:
    yield Q(
        "UPDATE tenant_key SET wrapped = ?, master_id = ? WHERE tenant_id = ? AND version = ?",
        (wrapped, master_id, tenant_id, version),
    )


# -- domains ------------------------------------------------------------------------------------

def create_domain(tenant_id: int, name: str, alias_of: int | None) -> Op[Domain]:
    if (yield Q("SELECT 1 FROM domain WHERE name = ?", (name,))):
        raise AlreadyExists(what=name)
    if not (yield Q("SELECT 1 FROM tenant WHERE id = ?", (tenant_id,))):
        raise NotFound(what=f"tenant {tenant_id}")
    rows = yield Q(
        f"INSERT INTO domain (tenant_id, name, alias_of, created_at) VALUES (?, ?, ?, ?)"
        f" RETURNING {_DOMAIN_COLS}",
        (tenant_id, name, alias_of, int(time.time())),
    )
    return _domain(rows[0])


def get_domain(name: str) -> Op[Domain | None]:
    r = one((yield Q(f"SELECT {_DOMAIN_COLS} FROM domain WHERE name = ?", (name,))))
    return _domain(r) if r else None


def get_domain_by_id(domain_id: int) -> Op[Domain | None]:
    r = one((yield Q(f"SELECT {_DOMAIN_COLS} FROM domain WHERE id = ?", (domain_id,))))
    return _domain(r) if r else None


def list_domains(tenant_id: int | None = None) -> Op[list[Domain]]:
    if tenant_id is None:
        rows = yield Q(f"SELECT {_DOMAIN_COLS} FROM domain ORDER BY name")
    else:
        rows = yield Q(
            f"SELECT {_DOMAIN_COLS} FROM domain WHERE tenant_id = ? ORDER BY name", (tenant_id,)
        )
    return [_domain(r) for r in rows]


def set_domain_disabled(domain_id: int, disabled: bool) -> Op[None]:
    yield Q("UPDATE domain SET disabled = ? WHERE id = ?", (int(disabled), domain_id))


def delete_domain(domain_id: int) -> Op[None]:
    """Delete a domain with no accounts or aliases left (callers check and explain)."""
    if (yield Q("SELECT 1 FROM account WHERE domain_id = ? LIMIT 1", (domain_id,))):
        raise AlreadyExists("domain.not_empty")
    yield Q("DELETE FROM alias WHERE domain_id = ?", (domain_id,))
    yield Q("UPDATE domain SET alias_of = NULL WHERE alias_of = ?", (domain_id,))
    yield Q("DELETE FROM domain WHERE id = ?", (domain_id,))


def set_catch_all(domain_id: int, target: str | None) -> Op[None]:
    yield Q("UPDATE domain SET catch_all = ? WHERE id = ?", (target, domain_id))


# -- accounts -----------------------------------------------------------------------------------

def create_account(
    tenant_id: int,
    domain_id: int,
    address: str,
    display_name: str,
    kind: str,
    role: str,
    password_hash: str | None,
    quota_bytes: int,
) -> Op[Account]:
    if (yield Q("SELECT 1 FROM account WHERE address = ?", (address,))) or (
        yield Q("SELECT 1 FROM alias WHERE address = ?", (address,))
    ):
        raise AlreadyExists("user.exists", email=address)
    rows = yield Q(
        "INSERT INTO account (tenant_id, domain_id, address, display_name, kind, role,"
        " password_hash, quota_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" RETURNING {ACCOUNT_COLS}",
        (tenant_id, domain_id, address, display_name, kind, role, password_hash, quota_bytes,
         int(time.time())),
    )
    acct = account_row(rows[0])
    if password_hash is not None:  # password age for rotation (migration 0106)
        yield from lockout.set_password_changed(acct.id, acct.created_at)
    return acct


def get_account(account_id: int) -> Op[Account | None]:
    r = one((yield Q(f"SELECT {ACCOUNT_COLS} FROM account WHERE id = ?", (account_id,))))
    return account_row(r) if r else None


def get_account_by_address(address: str) -> Op[Account | None]:
    r = one((yield Q(f"SELECT {ACCOUNT_COLS} FROM account WHERE address = ?", (address,))))
    return account_row(r) if r else None


def list_accounts(domain_id: int | None = None, tenant_id: int | None = None) -> Op[list[Account]]:
    if domain_id is not None:
        rows = yield Q(
            f"SELECT {ACCOUNT_COLS} FROM account WHERE domain_id = ? ORDER BY address",
            (domain_id,),
        )
    elif tenant_id is not None:
        rows = yield Q(
            f"SELECT {ACCOUNT_COLS} FROM account WHERE tenant_id = ? ORDER BY address",
            (tenant_id,),
        )
    else:
        rows = yield Q(f"SELECT {ACCOUNT_COLS} FROM account ORDER BY address")
    return [account_row(r) for r in rows]


#: previous password hashes kept per account (the largest tenant policy ``history``)
PASSWORD_HISTORY_KEEP = 24


def set_password_hash(account_id: int, password_hash: str) -> Op[None]:
    """Replace the account password: the old hash moves to ``password_history`` (migration
    0206, at most :data:`PASSWORD_HISTORY_KEEP` kept) and the change time is recorded for
    rotation (0106), all in this transaction."""
    now = int(time.time())
    old = one((yield Q("SELECT password_hash FROM account WHERE id = ?", (account_id,))))
    if old is None:
        raise NotFound(what=f"account {account_id}")
    yield Q(
        "UPDATE account SET password_hash = ? WHERE id = ?",
        (password_hash, account_id),
    )
    if old[0]:
        yield Q(
            "INSERT INTO password_history (account_id, password_hash, replaced_at)"
            " VALUES (?, ?, ?)",
            (account_id, old[0], now),
        )
        yield Q(
            "DELETE FROM password_history WHERE account_id = ? AND id NOT IN"
            " (SELECT id FROM password_history WHERE account_id = ? ORDER BY id DESC LIMIT ?)",
            (account_id, account_id, PASSWORD_HISTORY_KEEP),
        )
    yield from lockout.set_password_changed(account_id, now)


def previous_password_hashes(account_id: int, limit: int) -> Op[list[str]]:
    """The hashes of the ``limit`` most recent previous passwords, newest first."""
    if limit <= 0:
        return []
    rows = yield Q(
        "SELECT password_hash FROM password_history WHERE account_id = ?"
        " ORDER BY id DESC LIMIT ?",
        (account_id, limit),
    )
    return [str(r[0]) for r in rows]


def set_account_disabled(account_id: int, disabled: bool) -> Op[None]:
    yield Q("UPDATE account SET disabled = ? WHERE id = ?", (int(disabled), account_id))


def count_accounts(tenant_id: int) -> Op[int]:
    rows = yield Q("SELECT COUNT(*) FROM account WHERE tenant_id = ?", (tenant_id,))
    return int(rows[0][0])


def delete_account(account_id: int) -> Op[list[tuple[int, str]]]:
    """Delete an account and its mail. Returns the (tenant_id, blob_id) refs released."""
    rows = yield Q(
        "SELECT a.tenant_id, m.blob_id FROM message m JOIN account a ON a.id = m.account_id"
        " WHERE m.account_id = ?",
        (account_id,),
    )
    released = [(r[0], r[1]) for r in rows]
    for tenant_id, blob_id in released:
        yield Q(
            "UPDATE blob_ref SET refs = refs - 1 WHERE tenant_id = ? AND blob_id = ?",
            (tenant_id, blob_id),
        )
    yield Q("DELETE FROM change_log WHERE account_id = ?", (account_id,))
    yield Q(
        "DELETE FROM mailbox_message WHERE mailbox_id IN"
        " (SELECT id FROM mailbox WHERE account_id = ?)",
        (account_id,),
    )
    yield Q(
        "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM message WHERE account_id = ?)",
        (account_id,),
        pg="DELETE FROM search_chunk WHERE account_id = $1",
    )
    yield Q("DELETE FROM message WHERE account_id = ?", (account_id,))
    yield Q("DELETE FROM thread WHERE account_id = ?", (account_id,))
    yield Q("DELETE FROM mailbox WHERE account_id = ?", (account_id,))
    yield Q("DELETE FROM acl WHERE owner_id = ? OR grantee_id = ?", (account_id, account_id))
    yield Q("DELETE FROM account WHERE id = ?", (account_id,))
    return released


# -- aliases and groups -------------------------------------------------------------------------

def create_alias(
    tenant_id: int, domain_id: int, address: str, kind: str, display_name: str,
    members: list[str],
) -> Op[Alias]:
    if (yield Q("SELECT 1 FROM alias WHERE address = ?", (address,))) or (
        yield Q("SELECT 1 FROM account WHERE address = ?", (address,))
    ):
        raise AlreadyExists(what=address)
    rows = yield Q(
        "INSERT INTO alias (tenant_id, domain_id, address, kind, display_name, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (tenant_id, domain_id, address, kind, display_name, int(time.time())),
    )
    alias_id = rows[0][0]
    for m in sorted(set(members)):
        yield Q("INSERT INTO alias_member (alias_id, member) VALUES (?, ?)", (alias_id, m))
    return Alias(alias_id, tenant_id, domain_id, address, kind, display_name, False,
                 tuple(sorted(set(members))))


def get_alias(address: str) -> Op[Alias | None]:
    r = one((yield Q(
        "SELECT id, tenant_id, domain_id, address, kind, display_name, disabled FROM alias"
        " WHERE address = ?", (address,))))
    if not r:
        return None
    members = yield Q(
        "SELECT member FROM alias_member WHERE alias_id = ? ORDER BY member", (r[0],)
    )
    return Alias(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), tuple(m[0] for m in members))


def list_aliases(domain_id: int | None = None, kind: str | None = None) -> Op[list[Alias]]:
    sql = "SELECT address FROM alias"
    conds: list[str] = []
    params: list[object] = []
    if domain_id is not None:
        conds.append("domain_id = ?")
        params.append(domain_id)
    if kind is not None:
        conds.append("kind = ?")
        params.append(kind)
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    out: list[Alias] = []
    for (address,) in (yield Q(sql + " ORDER BY address", tuple(params))):
        a = yield from get_alias(address)
        if a:
            out.append(a)
    return out


def set_alias_members(alias_id: int, add: list[str], remove: list[str]) -> Op[None]:
    for m in remove:
        yield Q("DELETE FROM alias_member WHERE alias_id = ? AND member = ?", (alias_id, m))
    for m in add:
        yield Q(
            "INSERT INTO alias_member (alias_id, member) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (alias_id, m),
        )


def delete_alias(address: str) -> Op[None]:
    rows = yield Q("SELECT id FROM alias WHERE address = ?", (address,))
    if not rows:
        raise NotFound(what=address)
    yield Q("DELETE FROM alias_member WHERE alias_id = ?", (rows[0][0],))
    yield Q("DELETE FROM alias WHERE id = ?", (rows[0][0],))


def set_alias_disabled(address: str, disabled: bool) -> Op[None]:
    yield Q("UPDATE alias SET disabled = ? WHERE address = ?", (int(disabled), address))
