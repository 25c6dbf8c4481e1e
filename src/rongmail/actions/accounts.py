"""Directory actions: tenants, domains, accounts, aliases and groups."""

from __future__ import annotations

import asyncio
import secrets
import time

from rongmail.actions.context import ActionContext
from rongmail.core.address import normalize_address, normalize_domain, split_address
from rongmail.core.models import DEFAULT_MAILBOXES, Account, Alias, Domain, Tenant
from rongmail.errors import NotFound, ValidationError
from rongmail.services.auth import credcache
from rongmail.services.auth.passwords import check_policy, hash_password, matches_any_async
from rongmail.store.sql import admin as adm
from rongmail.store.sql import directory as d
from rongmail.store.sql import mail as ml
from rongmail.store.sql.q import Op


async def do_create_tenant(
    ctx: ActionContext, name: str, *, display_name: str = "", quota_bytes: int = 0,
    max_accounts: int = 0, features: dict[str, object] | None = None,
) -> Tenant:
    """Create a tenant (company) and its first data key in one transaction."""
    if not name or len(name) > 100:
        raise ValidationError(what="tenant name")

    def op() -> Op[Tenant]:
        t = yield from d.create_tenant(name, display_name or name, quota_bytes, max_accounts,
                                       features or {})
        version, wrapped = ctx.keys.new_tenant_key(t.id)
        yield from d.add_tenant_key(t.id, version, wrapped, ctx.keys.master_id)
        box["key"] = (t.id, version, wrapped)
        return t

    box: dict[str, tuple[int, int, bytes]] = {}
    tenant = await ctx.meta.write(op())
    ctx.keys.add(*box["key"])
    return tenant


async def do_rotate_tenant_key(ctx: ActionContext, tenant_id: int) -> int:
    """Add a new data-key version; new blobs use it, old blobs stay readable."""
    version, wrapped = ctx.keys.new_tenant_key(tenant_id)
    await ctx.meta.write(d.add_tenant_key(tenant_id, version, wrapped, ctx.keys.master_id))
    ctx.keys.add(tenant_id, version, wrapped)
    return version


async def do_create_domain(
    ctx: ActionContext, tenant_id: int, name: str, *, alias_of: str | None = None
) -> Domain:
    dom = normalize_domain(name)
    target_id = None
    if alias_of:
        target = await ctx.meta.read(d.get_domain(normalize_domain(alias_of)))
        if target is None:
            raise NotFound("domain.unknown", domain=alias_of)
        target_id = target.id
    return await ctx.meta.write(d.create_domain(tenant_id, dom, target_id))


async def _domain_for(ctx: ActionContext, address: str) -> tuple[str, Domain]:
    addr = normalize_address(address)
    _, dom = split_address(addr)
    domain = await ctx.meta.read(d.get_domain(dom))
    if domain is None:
        raise NotFound("domain.unknown", domain=dom)
    if domain.alias_of:
        raise ValidationError("domain.is_alias", domain=dom)
    return addr, domain


async def do_create_account(
    ctx: ActionContext, address: str, password: str | None, *, display_name: str = "",
    role: str = "user", kind: str = "user", quota_bytes: int = 0,
    check_password: bool = True,
) -> Account:
    """Create a user or shared mailbox with the default special-use folders, atomically."""
    addr, domain = await _domain_for(ctx, address)
    if kind not in ("user", "shared"):
        raise ValidationError(what="kind")
    pw_hash = None
    if password is not None:
        if check_password:
            check_policy(password)
        pw_hash = await asyncio.to_thread(hash_password, password)
    tenant = await ctx.meta.read(d.get_tenant(domain.tenant_id))
    if tenant and tenant.max_accounts:
        n = await ctx.meta.read(d.count_accounts(tenant.id))
        if n >= tenant.max_accounts:
            raise ValidationError("tenant.max_accounts", limit=tenant.max_accounts)

    def op() -> Op[Account]:
        acct = yield from d.create_account(domain.tenant_id, domain.id, addr, display_name,
                                           kind, role, pw_hash, quota_bytes)
        for i, role_name in enumerate(DEFAULT_MAILBOXES):
            yield from ml.create_mailbox(acct.id, _default_name(role_name), 0, role_name,
                                         new_uidvalidity(), sort_order=i)
        return acct

    acct = await ctx.meta.write(op())
    ctx.tenant_of[acct.id] = acct.tenant_id
    return acct


def _default_name(role: str) -> str:
    # IMAP clients expect the canonical English names for special-use folders; the web and
    # JMAP show localized names by role (RFC 8621 §2: name is what the user sees; role drives UI).
    return "INBOX" if role == "inbox" else role.capitalize()


def new_uidvalidity() -> int:
    """A UIDVALIDITY that never repeats for a name (RFC 9051 §2.3.1.1): time-based, 32 bit."""
    return (int(time.time()) & 0x7FFFFFFF) ^ secrets.randbelow(1 << 16) or 1


async def do_set_password(
    ctx: ActionContext, address: str, password: str, *, check_password: bool = True
) -> None:
    """Set the account password. ``check_password`` applies the built-in policy (callers that
    checked the tenant policy pass False). The tenant policy's password history always applies:
    with ``history`` = N the password may not be any of the last N, the current one included
    (argon2id verification off the event loop); ``ValidationError("password.reused_history")``.
    """
    if check_password:
        check_policy(password)
    acct = await _account(ctx, address)
    policy = await ctx.meta.read(adm.get_policy(acct.tenant_id))
    remembered = policy.history if policy is not None else 0
    if remembered > 0:
        previous = await ctx.meta.read(d.previous_password_hashes(acct.id, remembered - 1))
        if await matches_any_async([acct.password_hash, *previous], password):
            raise ValidationError("password.reused_history", count=remembered)
    pw_hash = await asyncio.to_thread(hash_password, password)
    await ctx.meta.write(d.set_password_hash(acct.id, pw_hash))
    credcache.forget(acct.id)


async def _account(ctx: ActionContext, address: str) -> Account:
    acct = await ctx.meta.read(d.get_account_by_address(normalize_address(address)))
    if acct is None:
        raise NotFound("user.unknown", email=address)
    return acct


async def do_disable_account(ctx: ActionContext, address: str, *, disabled: bool = True) -> None:
    acct = await _account(ctx, address)
    await ctx.meta.write(d.set_account_disabled(acct.id, disabled))
    credcache.forget(acct.id)


async def do_delete_account(ctx: ActionContext, address: str) -> None:
    acct = await _account(ctx, address)
    await ctx.meta.write(d.delete_account(acct.id))
    ctx.tenant_of.pop(acct.id, None)


async def do_create_alias(
    ctx: ActionContext, address: str, members: list[str], *, kind: str = "alias",
    display_name: str = "",
) -> Alias:
    """An alias (forwards to members) or a group / distribution list (kind="group")."""
    if kind not in ("alias", "group"):
        raise ValidationError(what="kind")
    addr, domain = await _domain_for(ctx, address)
    if not members:
        raise ValidationError(what="members")
    norm = [normalize_address(m) for m in members]
    return await ctx.meta.write(d.create_alias(domain.tenant_id, domain.id, addr, kind,
                                               display_name, norm))


async def do_delete_alias(ctx: ActionContext, address: str) -> None:
    await ctx.meta.write(d.delete_alias(normalize_address(address)))


async def do_disable_domain(ctx: ActionContext, name: str, *, disabled: bool = True) -> None:
    dom = await ctx.meta.read(d.get_domain(normalize_domain(name)))
    if dom is None:
        raise NotFound("domain.unknown", domain=name)
    await ctx.meta.write(d.set_domain_disabled(dom.id, disabled))


async def do_delete_domain(ctx: ActionContext, name: str) -> None:
    dom = await ctx.meta.read(d.get_domain(normalize_domain(name)))
    if dom is None:
        raise NotFound("domain.unknown", domain=name)
    await ctx.meta.write(d.delete_domain(dom.id))
