"""Typed reads of identity state for protocol code (which never imports ``store.sql``)."""

from __future__ import annotations

import time

from rongmail.store.ports import MetaStore
from rongmail.store.sql import auth as sa
from rongmail.store.sql import lockout as lk


class SecurityReader:
    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta

    async def sessions(self, account_id: int) -> list[sa.SessionRow]:
        return await self.meta.read(sa.sessions(account_id, int(time.time())))

    async def app_passwords(self, account_id: int) -> list[sa.AppPasswordRow]:
        return await self.meta.read(sa.list_app_passwords(account_id))

    async def totp_state(self, account_id: int) -> str:
        """``off`` | ``pending`` | ``on``."""
        row = await self.meta.read(sa.totp(account_id))
        return "off" if row is None else ("on" if row.confirmed else "pending")

    async def recovery_codes_left(self, account_id: int) -> int:
        return await self.meta.read(sa.recovery_codes_left(account_id))

    async def frozen(self, account_id: int) -> tuple[int, str] | None:
        return await self.meta.read(sa.frozen(account_id))

    async def allowed_networks(self, tenant_id: int) -> list[tuple[str, str]]:
        return await self.meta.read(sa.allowed_networks(tenant_id))

    async def audit(self, *, tenant_id: int | None, account_id: int | None = None,
                    category: str | None = None, since: int | None = None,
                    until: int | None = None, before_seq: int | None = None,
                    limit: int = 200) -> list[sa.AuditEntry]:
        return await self.meta.read(sa.search_audit(
            tenant_id=tenant_id, account_id=account_id, category=category, since=since,
            until=until, before_seq=before_seq, limit=limit))

    async def wiped(self, token_hash: str) -> bool:
        return await self.meta.read(sa.is_wiped(token_hash))

    async def account_for_identity(self, provider: str, subject: str) -> int | None:
        return await self.meta.read(sa.account_for_identity(provider, subject))

    async def passkeys(self, account_id: int) -> list[sa.PasskeyRow]:
        return await self.meta.read(sa.passkeys(account_id))

    async def passkey(self, credential_id: str) -> sa.PasskeyRow | None:
        return await self.meta.read(sa.passkey_by_credential(credential_id))

    async def lockouts(
        self, *, tenant_id: int | None, domain_ids: frozenset[int] | None = None
    ) -> list[lk.Lockout]:
        """Brute-force blocks in force, scoped (``lk.lockouts_in_scope``)."""
        return await self.meta.read(
            lk.lockouts_in_scope(int(time.time()), tenant_id=tenant_id, domain_ids=domain_ids))
