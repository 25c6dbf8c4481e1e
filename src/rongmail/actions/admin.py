"""Admin actions: tenant limits and feature menu, password policy, roles, sensitive groups,
mailbox delegation, bulk import, DKIM keys, DNS provider credentials and pushed records.

Every action takes the acting :class:`Actor` and appends an ``admin_audit`` row. Where the write
is ours (store/sql/admin.py) the audit row commits in the same transaction as the change; where
an action of ``accounts.py`` does the write, the audit row follows its commit (a crash between
the two loses one audit line, never a change that was not audited because it failed).
Authorization is the caller's job (``protocols/http/admin`` via ``services.admin.roles``);
actions only validate. The one action without an actor is housekeeping's
:func:`do_prune_admin_audit`, which removes rows past the audit retention.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rongmail.actions import accounts as acc
from rongmail.actions.auth import AUDIT_MIN_RETENTION_DAYS
from rongmail.actions.batches import in_batches
from rongmail.actions.context import ActionContext
from rongmail.core.address import normalize_address
from rongmail.core.models import Account, Alias, Domain, Tenant
from rongmail.errors import MailError, ValidationError
from rongmail.services.admin import features as feat
from rongmail.services.admin.bulk_import import ImportRow
from rongmail.services.admin.reads import seal_bytes
from rongmail.services.admin.roles import Role
from rongmail.services.admin.wizard import WizardInput, parse_input, with_policy_id
from rongmail.services.auth.passwords import check_policy
from rongmail.services.mailauth.dkim import Algorithm, generate_dkim_key
from rongmail.store.sql import admin as adm
from rongmail.store.sql import auth as sa
from rongmail.store.sql import directory as d
from rongmail.store.sql.admin import PolicyRow
from rongmail.store.sql.q import Op

DEFAULT_POLICY = PolicyRow(min_length=8, min_classes=1, max_age_days=0, history=0)
PROVIDER_KINDS = frozenset({"aliyun", "dnspod", "huaweicloud", "cloudflare", "rfc2136"})
DKIM_ALGORITHMS: dict[str, Algorithm] = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts (for the audit log): an admin account, or None for the CLI / system.

    With ``audit_key`` (the HMAC key of the identity layer's hash-chained ``audit_log``,
    issue 8) every admin action is also appended to that tamper-evident chain, category
    ``admin``, in the same transaction."""

    account_id: int | None
    tenant_id: int | None
    remote: str = ""
    audit_key: bytes | None = field(default=None, repr=False)


SYSTEM = Actor(None, None)


def _audited(actor: Actor, tenant_id: int | None, action: str, target: str,
             detail: dict[str, Any], body: Op[Any]) -> Op[Any]:
    result = yield from body
    yield from adm.audit(actor.account_id, tenant_id, action, target, detail, actor.remote)
    if actor.audit_key is not None:
        yield from sa.append_audit(actor.audit_key, category="admin", action=action,
                                   tenant_id=tenant_id, actor_id=actor.account_id,
                                   remote=actor.remote, detail={"target": target, **detail})
    return result


def _nothing() -> Op[None]:
    return None
    yield  # pragma: no cover - makes this a generator


async def do_record_audit(ctx: ActionContext, actor: Actor, tenant_id: int | None, action: str,
                          target: str = "", detail: dict[str, Any] | None = None) -> None:
    await ctx.meta.write(_audited(actor, tenant_id, action, target, detail or {}, _nothing()))


async def do_prune_admin_audit(ctx: ActionContext, *, before: int) -> int:
    """Delete ``admin_audit`` rows written before ``before`` (unix seconds): the housekeeping
    pass gives ``security.audit_retention_days`` ago, the retention of the hash-chained
    ``audit_log`` (where admin actions are also chained when the actor carries the key).
    ``admin_audit`` is a plain list, not chained, so its oldest rows go without a record.
    Raises ``ValidationError`` for a cut-off younger than
    :data:`~rongmail.actions.auth.AUDIT_MIN_RETENTION_DAYS` (180 days). Returns how many rows
    went.

    Batches of ``store.sql.admin.AUDIT_PURGE_BATCH`` rows, the oldest first, each one relaxed
    transaction (a batch a crash undoes is redone next time), until a batch comes back short."""
    if before > int(time.time()) - AUDIT_MIN_RETENTION_DAYS * 86400:
        raise ValidationError(what="before")
    return await in_batches(ctx, lambda n: adm.prune_audit(before, n), adm.AUDIT_PURGE_BATCH)


# -- tenants ------------------------------------------------------------------------------------

async def do_update_tenant(
    ctx: ActionContext, actor: Actor, tenant_id: int, *, display_name: str | None = None,
    quota_bytes: int | None = None, max_accounts: int | None = None,
    features: dict[str, Any] | None = None,
) -> Tenant:
    """Change a tenant's name, quotas or feature switches (a partial update of the menu)."""
    if display_name is not None and not 0 < len(display_name) <= 200:
        raise ValidationError(what="display_name")
    for name, v in (("quota_bytes", quota_bytes), ("max_accounts", max_accounts)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValidationError(what=name)
    changes = feat.validate(features) if features is not None else None

    def op() -> Op[Tenant]:
        merged = None
        if changes is not None:
            cur = yield from d.get_tenant(tenant_id)
            merged = {**(cur.features if cur else {}), **changes}
        return (yield from adm.update_tenant(tenant_id, display_name=display_name,
                                             quota_bytes=quota_bytes,
                                             max_accounts=max_accounts, features=merged))

    detail = {"display_name": display_name, "quota_bytes": quota_bytes,
              "max_accounts": max_accounts, "features": changes}
    return await ctx.meta.write(_audited(actor, tenant_id, "tenant.update", str(tenant_id),
                                         {k: v for k, v in detail.items() if v is not None},
                                         op()))


# -- password policy ----------------------------------------------------------------------------

def _classes(password: str) -> int:
    return sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                any(c.isdigit() for c in password), any(not c.isalnum() for c in password)))


async def tenant_policy(ctx: ActionContext, tenant_id: int) -> PolicyRow:
    return await ctx.meta.read(adm.get_policy(tenant_id)) or DEFAULT_POLICY


async def check_tenant_password(ctx: ActionContext, tenant_id: int, password: str) -> None:
    """The built-in checks (length, common passwords) under the tenant's policy."""
    p = await tenant_policy(ctx, tenant_id)
    check_policy(password, min_length=p.min_length)
    if _classes(password) < p.min_classes:
        raise ValidationError("password.too_simple", classes=p.min_classes)


async def do_set_password_policy(ctx: ActionContext, actor: Actor, tenant_id: int, *,
                                 min_length: int, min_classes: int, max_age_days: int = 0,
                                 history: int = 0) -> PolicyRow:
    if not 8 <= min_length <= 128:
        raise ValidationError(what="min_length")
    if not 1 <= min_classes <= 4:
        raise ValidationError(what="min_classes")
    if not 0 <= max_age_days <= 3650 or not 0 <= history <= 24:
        raise ValidationError(what="max_age_days/history")
    p = PolicyRow(min_length, min_classes, max_age_days, history)
    await ctx.meta.write(_audited(actor, tenant_id, "policy.update", str(tenant_id),
                                  {"min_length": min_length, "min_classes": min_classes,
                                   "max_age_days": max_age_days, "history": history},
                                  adm.put_policy(tenant_id, p)))
    return p


async def do_reset_password(ctx: ActionContext, actor: Actor, account: Account,
                            password: str) -> None:
    """Helpdesk's reset: the tenant policy applies; the audit row never holds the password."""
    await check_tenant_password(ctx, account.tenant_id, password)
    await acc.do_set_password(ctx, account.address, password, check_password=False)
    await do_record_audit(ctx, actor, account.tenant_id, "user.password_reset", account.address)


# -- accounts, roles, sensitive groups, delegation ----------------------------------------------

async def do_create_user(ctx: ActionContext, actor: Actor, address: str, password: str, *,
                         display_name: str = "", quota_bytes: int = 0,
                         kind: str = "user") -> Account:
    _, domain = await acc._domain_for(ctx, address)  # noqa: SLF001 - same package
    await check_tenant_password(ctx, domain.tenant_id, password)
    a = await acc.do_create_account(ctx, address, password, display_name=display_name,
                                    kind=kind, quota_bytes=quota_bytes, check_password=False)
    await do_record_audit(ctx, actor, a.tenant_id, "user.create", a.address, {"kind": kind})
    return a


async def do_set_account_quota(ctx: ActionContext, actor: Actor, account: Account,
                               quota_bytes: int) -> None:
    if quota_bytes < 0:
        raise ValidationError(what="quota_bytes")
    await ctx.meta.write(_audited(actor, account.tenant_id, "user.quota", account.address,
                                  {"quota_bytes": quota_bytes},
                                  adm.set_account_quota(account.id, quota_bytes)))


async def do_set_admin_role(ctx: ActionContext, actor: Actor, account: Account, role: Role,
                            domain_ids: Sequence[int] = ()) -> None:
    if role is not Role.DOMAIN_ADMIN and domain_ids:
        raise ValidationError(what="domains")
    await ctx.meta.write(_audited(actor, account.tenant_id, "role.set", account.address,
                                  {"role": str(role), "domains": sorted(domain_ids)},
                                  adm.set_role(account.id, str(role), domain_ids)))


async def do_set_sensitive_group(ctx: ActionContext, actor: Actor, group: Alias, *,
                                 sensitive: bool, label: str = "") -> None:
    if group.kind != "group":
        raise ValidationError("admin.sensitive.not_group", address=group.address)
    await ctx.meta.write(_audited(actor, group.tenant_id, "group.sensitive", group.address,
                                  {"sensitive": sensitive, "label": label},
                                  adm.set_sensitive(group.id, group.tenant_id, label,
                                                    sensitive)))


async def do_delegate_mailbox(ctx: ActionContext, actor: Actor, owner: Account,
                              grantee: Account, rights: str = "lrswipkxtea") -> None:
    """Give ``grantee`` access to all of ``owner``'s mailboxes (RFC 4314 rights)."""
    if owner.tenant_id != grantee.tenant_id or owner.id == grantee.id:
        raise ValidationError(what="grantee")
    if not rights or any(c not in "lrswipkxtea" for c in rights):
        raise ValidationError(what="rights")
    await ctx.meta.write(_audited(actor, owner.tenant_id, "mail.delegate", owner.address,
                                  {"grantee": grantee.address, "rights": rights},
                                  adm.grant_mailbox(owner, grantee, rights)))


# -- bulk import --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ImportResult:
    line: int
    address: str
    status: str  # "created" | "error"
    #: catalogue key of the problem ("" when created) and its parameters
    problem: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: the generated password, shown once in the report (rows with a blank password)
    generated_password: str = ""


async def do_import_users(ctx: ActionContext, actor: Actor, rows: Sequence[ImportRow], *,
                          may_create: Callable[[Domain], bool],
                          dry_run: bool = False) -> list[ImportResult]:
    """Create one account per row; a bad row is reported and never stops the others.

    ``may_create`` is the caller's authorization for the row's domain (a domain admin may
    import only into its domains). Rows are created one by one so the report is exact."""
    out: list[ImportResult] = []
    seen: set[str] = set()
    created = 0
    for row in rows:
        if row.problem:
            out.append(ImportResult(row.line, row.address, "error", row.problem))
            continue
        try:
            addr, domain = await acc._domain_for(ctx, row.address)  # noqa: SLF001
            if not may_create(domain):
                raise ValidationError("admin.import.domain_forbidden", domain=domain.name)
            if addr in seen:
                raise ValidationError("admin.import.duplicate", address=addr)
            seen.add(addr)
            if row.role != "user":
                raise ValidationError("admin.import.role_ignored")
            generated = ""
            password = row.password
            if not password:
                password = generated = _generated_password()
            await check_tenant_password(ctx, domain.tenant_id, password)
            if not dry_run:
                await acc.do_create_account(ctx, addr, password, display_name=row.display_name,
                                            quota_bytes=row.quota_mb * 1024 * 1024,
                                            check_password=False)
                created += 1
            out.append(ImportResult(row.line, addr, "created",
                                    generated_password=generated))
        except MailError as e:
            out.append(ImportResult(row.line, row.address, "error", e.key, dict(e.params)))
    await do_record_audit(ctx, actor, actor.tenant_id, "user.import", "",
                          {"rows": len(rows), "created": created, "dry_run": dry_run})
    return out


def _generated_password() -> str:
    # four character classes, 16 characters: passes any policy we allow
    picks = [secrets.choice(s) for s in ("ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghjkmnpqrstuvwxyz",
                                          "23456789", "!#%+=?@")]
    return secrets.token_urlsafe(12) + "".join(picks)


# -- DKIM keys ----------------------------------------------------------------------------------

async def do_create_dkim_key(ctx: ActionContext, actor: Actor, domain: Domain, algorithm: str,
                             *, selector: str = "", overlap_days: int = 7) -> adm.DkimKeyRow:
    """A new signing key for ``domain``; the previous active key of the same algorithm keeps
    being published (``retiring``) for ``overlap_days`` so mail in flight still verifies."""
    if algorithm not in DKIM_ALGORITHMS:
        raise ValidationError(what="algorithm")
    sel = selector or f"rm{time.strftime('%Y%m', time.gmtime())}{algorithm[0]}" \
        f"{secrets.token_hex(2)}"
    if not sel.replace("-", "").isalnum() or len(sel) > 63:
        raise ValidationError(what="selector")
    key = await asyncio.to_thread(generate_dkim_key, domain.name, sel, DKIM_ALGORITHMS[algorithm])
    version, sealed = seal_bytes(ctx.keys, domain.tenant_id, "dkim", key.key.private_pem)
    retire_at = int(time.time()) + overlap_days * 86400

    def op() -> Op[adm.DkimKeyRow]:
        yield from adm.retire_dkim_keys(domain.id, algorithm, retire_at)
        return (yield from adm.add_dkim_key(domain.id, sel, algorithm, key.txt, sealed,
                                            version))

    return await ctx.meta.write(_audited(actor, domain.tenant_id, "dkim.create", domain.name,
                                         {"selector": sel, "algorithm": algorithm}, op()))


# -- DNS providers and pushes -------------------------------------------------------------------

async def do_set_dns_provider(ctx: ActionContext, actor: Actor, domain: Domain, kind: str, *,
                              endpoint: str = "", credentials: dict[str, str]) -> None:
    """Store provider credentials sealed under the tenant key (never returned by the API)."""
    if kind not in PROVIDER_KINDS:
        raise ValidationError(what="provider")
    if not isinstance(credentials, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in credentials.items()):
        raise ValidationError(what="credentials")
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise ValidationError(what="endpoint")
    version, sealed = seal_bytes(ctx.keys, domain.tenant_id, "dns-provider",
                                 json.dumps(credentials).encode())
    await ctx.meta.write(_audited(actor, domain.tenant_id, "dns.provider", domain.name,
                                  {"kind": kind, "endpoint": endpoint},
                                  adm.put_provider(domain.id, kind, endpoint, sealed, version)))


async def do_record_dns_push(ctx: ActionContext, actor: Actor, domain: Domain,
                             added: Sequence[tuple[str, str, str]],
                             removed: Sequence[tuple[str, str, str]], *, via: str) -> None:
    """Remember which records the wizard now owns (after a successful push)."""
    await ctx.meta.write(_audited(actor, domain.tenant_id, "dns.push", domain.name,
                                  {"via": via, "added": len(added), "removed": len(removed)},
                                  adm.record_push(domain.id, added, removed)))


async def do_create_domain(ctx: ActionContext, actor: Actor, tenant_id: int, name: str) -> Domain:
    dom = await acc.do_create_domain(ctx, tenant_id, name)
    await do_record_audit(ctx, actor, tenant_id, "domain.create", dom.name)
    return dom


async def do_create_tenant(ctx: ActionContext, actor: Actor, name: str, *, display_name: str,
                           quota_bytes: int, max_accounts: int,
                           features: dict[str, Any]) -> Tenant:
    t = await acc.do_create_tenant(ctx, name, display_name=display_name,
                                   quota_bytes=quota_bytes, max_accounts=max_accounts,
                                   features=dict(feat.validate(features)))
    await do_record_audit(ctx, actor, t.id, "tenant.create", name)
    return t


async def do_create_group(ctx: ActionContext, actor: Actor, address: str, members: list[str], *,
                          kind: str, display_name: str = "") -> Alias:
    a = await acc.do_create_alias(ctx, address, members, kind=kind, display_name=display_name)
    await do_record_audit(ctx, actor, a.tenant_id, f"{kind}.create", a.address,
                          {"members": len(a.members)})
    return a


async def do_admin_delete_alias(ctx: ActionContext, actor: Actor, alias: Alias) -> None:
    await acc.do_delete_alias(ctx, alias.address)
    await do_record_audit(ctx, actor, alias.tenant_id, "alias.delete", alias.address)


async def do_admin_disable_account(ctx: ActionContext, actor: Actor, account: Account, *,
                                   disabled: bool) -> None:
    await acc.do_disable_account(ctx, account.address, disabled=disabled)
    await do_record_audit(ctx, actor, account.tenant_id,
                          "user.disable" if disabled else "user.enable", account.address)


async def do_admin_delete_account(ctx: ActionContext, actor: Actor, account: Account) -> None:
    await acc.do_delete_account(ctx, account.address)
    await do_record_audit(ctx, actor, account.tenant_id, "user.delete", account.address)




async def do_set_dns_wizard(ctx: ActionContext, actor: Actor, domain: Domain,
                            data: dict[str, Any]) -> WizardInput:
    """Store the wizard inputs of ``domain`` (validated; the MTA-STS id is managed here)."""
    new = parse_input(data)
    stored = await ctx.meta.read(adm.get_wizard(domain.id))
    final = with_policy_id(new, parse_input(stored) if stored else None)
    await ctx.meta.write(_audited(actor, domain.tenant_id, "dns.wizard", domain.name, {},
                                  adm.put_wizard(domain.id, final.model_dump(mode="json"))))
    return final


async def do_set_group_members(ctx: ActionContext, actor: Actor, group: Alias, *,
                               add: Sequence[str], remove: Sequence[str]) -> None:
    """Change the members of an alias, group or distribution list. Adding someone to a
    sensitive group guards their mailbox from that moment (membership is read at check time)."""
    plus = sorted({normalize_address(m) for m in add})
    minus = sorted({normalize_address(m) for m in remove} - set(plus))
    if not plus and not minus:
        return
    if not set(group.members) - set(minus) | set(plus):
        raise ValidationError(what="members")
    await ctx.meta.write(_audited(actor, group.tenant_id, f"{group.kind}.members", group.address,
                                  {"add": plus, "remove": minus},
                                  d.set_alias_members(group.id, plus, minus)))
