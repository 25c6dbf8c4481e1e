"""The :class:`~rongmail.pipeline.ports.Directory` over ``store.reader.Reader`` (no SQL here:
the store's operations are composed, e.g. the domain and account rows of the common case are
read in one store round trip instead of two).

Resolution order for ``local@domain`` (the same as the queue's local agent, so RCPT-time answers
and delivery agree): the account; the account without its ``+tag`` (plus-addressing, RFC 5233
style); an alias or group, expanded recursively (depth 8, loops ignored, members outside our
domains kept as ``external`` forwards); a domain alias (``alias_of``); the domain's catch-all.
A domain we do not host is REMOTE; an address literal is always REMOTE. ``Postmaster`` without
a domain (RFC 5321 §4.5.1) maps to ``postmaster@<primary domain>`` (default: the oldest hosted
domain).

``may_send_as`` (RFC 6409 §8): the account's own address, with or without ``+tag``, the same
local part in a domain aliased to the account's domain, or an alias/group the account belongs
to (delegation).
"""

from __future__ import annotations

from rongmail.core.address import normalize_address, strip_subaddress
from rongmail.core.models import Account, Domain
from rongmail.errors import ValidationError
from rongmail.pipeline.envelope import AuthIdentity, RecipientKind, Resolution
from rongmail.store.reader import Reader
from rongmail.store.sql import directory as d
from rongmail.store.sql.q import Op

MAX_DEPTH = 8


def _domain_and_account(domain: str, address: str) -> Op[tuple[Domain | None, Account | None]]:
    """The domain row and, when the domain is enabled, the account row of ``address``: what
    :meth:`StoreDirectory.resolve` reads first, in one read operation."""
    dom = yield from d.get_domain(domain)
    if dom is None or dom.disabled:
        return dom, None
    account = yield from d.get_account_by_address(address)
    return dom, account


class StoreDirectory:
    def __init__(self, reader: Reader, *, primary_domain: str = "") -> None:
        self._reader = reader
        self._primary = primary_domain

    async def _first_domain(self) -> str:
        """The oldest hosted (non-alias) domain: where a bare ``Postmaster`` goes."""
        hosted = [d for d in await self._reader.domains() if d.alias_of is None and not d.disabled]
        return min(hosted, key=lambda d: d.id).name if hosted else ""

    async def _domain_target(self, domain: Domain) -> Domain:
        """Follow ``alias_of`` (one level; aliases of aliases are not allowed)."""
        if domain.alias_of is None:
            return domain
        for candidate in await self._reader.domains(domain.tenant_id):
            if candidate.id == domain.alias_of:
                return candidate
        return domain

    async def resolve(self, address: str) -> Resolution:
        if address.lower() == "postmaster":
            primary = self._primary or await self._first_domain()
            if not primary:
                return Resolution(RecipientKind.UNKNOWN)
            address = f"postmaster@{primary}"
        local, _, domain_part = address.rpartition("@")
        if not local or domain_part.startswith("["):
            return Resolution(RecipientKind.REMOTE)
        try:
            normalized = normalize_address(address)
        except ValidationError:
            return Resolution(RecipientKind.UNKNOWN if "@" not in address else RecipientKind.REMOTE)
        domain, account = await self._reader.meta.read(
            _domain_and_account(normalized.rpartition("@")[2], normalized)
        )
        if domain is None:
            return Resolution(RecipientKind.REMOTE)
        if domain.disabled:
            return Resolution(RecipientKind.DISABLED, tenant_id=domain.tenant_id)
        if account is not None and not account.disabled:
            # what _walk finds first for an existing enabled account (its own address wins
            # over plus-addressing, aliases, domain aliases and the catch-all)
            return Resolution(RecipientKind.LOCAL, (account.id,), normalized, domain.tenant_id)
        accounts: list[int] = []
        external: list[str] = []
        seen: set[str] = set()
        disabled = await self._walk(normalized, 0, accounts, external, seen, domain=domain)
        if not accounts and not external:
            kind = RecipientKind.DISABLED if disabled else RecipientKind.UNKNOWN
            return Resolution(kind, tenant_id=domain.tenant_id)
        return Resolution(
            RecipientKind.LOCAL, tuple(accounts), normalized, domain.tenant_id, tuple(external)
        )

    async def _walk(
        self,
        address: str,
        depth: int,
        accounts: list[int],
        external: list[str],
        seen: set[str],
        *,
        domain: Domain | None = None,
    ) -> bool:
        """Expand ``address``; returns True when it named a disabled account. ``domain`` is
        the address's domain row when the caller has just read it (saves one read per RCPT)."""
        if address in seen or depth > MAX_DEPTH:
            return False
        seen.add(address)
        local, _, domain_name = address.rpartition("@")
        if domain is None or domain.name != domain_name:
            domain = await self._reader.domain(domain_name)
        if domain is None:
            external.append(address)
            return False
        base = strip_subaddress(local)
        candidates = [address] if base == local else [address, f"{base}@{domain_name}"]
        found_disabled = False
        for cand in candidates:
            account = await self._reader.account_by_address(cand)
            if account is not None:
                if account.disabled:
                    found_disabled = True
                    continue
                if account.id not in accounts:
                    accounts.append(account.id)
                return False
            alias = await self._reader.alias(cand)
            if alias is not None and not alias.disabled:
                for member in alias.members:
                    try:
                        member_addr = normalize_address(member)
                    except ValidationError:
                        continue
                    await self._walk(member_addr, depth + 1, accounts, external, seen)
                return False
        if found_disabled:
            return True
        target = await self._domain_target(domain)
        if target.id != domain.id:
            return await self._walk(f"{local}@{target.name}", depth + 1, accounts, external, seen)
        if domain.catch_all:
            try:
                catch_all = normalize_address(domain.catch_all)
            except ValidationError:
                return False
            return await self._walk(catch_all, depth + 1, accounts, external, seen)
        return False

    async def may_send_as(self, identity: AuthIdentity, address: str) -> bool:
        try:
            wanted = normalize_address(address)
            own = normalize_address(identity.address)
        except ValidationError:
            return False
        local, _, domain_name = wanted.rpartition("@")
        base = f"{strip_subaddress(local)}@{domain_name}"
        if own in (wanted, base):
            return True
        domain = await self._reader.domain(domain_name)
        if domain is None or domain.tenant_id != identity.tenant_id:
            return False
        target = await self._domain_target(domain)
        if target.id != domain.id and own == f"{strip_subaddress(local)}@{target.name}":
            return True
        for cand in (wanted, base):
            alias = await self._reader.alias(cand)
            if alias is not None and not alias.disabled:
                members = set()
                for m in alias.members:
                    try:
                        members.add(normalize_address(m))
                    except ValidationError:
                        continue
                if own in members:
                    return True
        return False
