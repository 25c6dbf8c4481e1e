"""The admin read facade: typed reads the admin API needs beyond ``store.reader.Reader``.

Protocols never import ``store.sql``; this class runs the directory, queue and admin operations
on the metadata store's reader pool and returns immutable rows. It also opens secrets sealed
under a tenant data key (:func:`open_sealed`), the counterpart of ``actions.admin.seal``.

(It belongs in ``store.reader.Reader`` once that file's owner folds it in; it is kept apart so
the admin work does not edit a shared hot file.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rongmail.core.models import Account, Alias, Domain, Tenant
from rongmail.store.fs.keys import KeyRing
from rongmail.store.ports import MetaStore
from rongmail.store.sql import admin as adm
from rongmail.store.sql import directory as d
from rongmail.store.sql import queue as qs
from rongmail.store.sql.admin import (
    AuditRow,
    DkimKeyRow,
    PolicyRow,
    ProviderRow,
    SensitiveGroupRow,
)

if TYPE_CHECKING:  # imported where used: ``services.mailauth`` loads dkimpy, PyNaCl, pyspf and
    # dnspython (about 6 MB per process), which a process that sends no mail never needs, and
    # every process imports this module (``actions.auth`` opens sealed secrets with it)
    from rongmail.services.mailauth.dkim import Algorithm, DkimKey

__all__ = ["AdminReader", "AuditRow", "DkimKeyRow", "PolicyRow", "ProviderRow",
           "QueueView", "SensitiveGroupRow", "open_sealed"]


_DKIM_ALG: dict[str, Algorithm] = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}


def _aad(tenant_id: int, purpose: str) -> bytes:
    return f"rongmail-sealed:{tenant_id}:{purpose}".encode()


def seal_bytes(keys: KeyRing, tenant_id: int, purpose: str, plaintext: bytes
               ) -> tuple[int, bytes]:
    """AES-256-GCM under the tenant's current data key; returns (key version, nonce+ct)."""
    import secrets

    version, key = keys.current(tenant_id)
    nonce = secrets.token_bytes(12)
    return version, nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(tenant_id, purpose))


def open_sealed(keys: KeyRing, tenant_id: int, purpose: str, version: int, sealed: bytes
                ) -> bytes:
    key = keys.get(tenant_id, version)
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], _aad(tenant_id, purpose))


@dataclass(frozen=True, slots=True)
class QueueView:
    """One queued message as the admin console shows it: envelope and state, never content."""

    id: int
    tenant_id: int
    mail_from: str
    size: int
    created_at: int
    recipients: int
    pending: int
    next_attempt_at: int | None
    held: bool
    last_reply: str


class AdminReader:
    def __init__(self, meta: MetaStore, keys: KeyRing) -> None:
        self.meta = meta
        self.keys = keys

    async def tenants(self) -> list[Tenant]:
        return await self.meta.read(d.list_tenants())

    async def tenant(self, tenant_id: int) -> Tenant | None:
        return await self.meta.read(d.get_tenant(tenant_id))

    async def tenant_usage(self, tenant_id: int) -> tuple[int, int]:
        return await self.meta.read(adm.tenant_usage(tenant_id))

    async def domain(self, name: str) -> Domain | None:
        return await self.meta.read(d.get_domain(name))

    async def domain_by_id(self, domain_id: int) -> Domain | None:
        return await self.meta.read(d.get_domain_by_id(domain_id))

    async def domains(self, tenant_id: int | None = None) -> list[Domain]:
        return await self.meta.read(d.list_domains(tenant_id))

    async def account(self, account_id: int) -> Account | None:
        return await self.meta.read(d.get_account(account_id))

    async def account_by_address(self, address: str) -> Account | None:
        return await self.meta.read(d.get_account_by_address(address))

    async def accounts(self, *, domain_id: int | None = None, tenant_id: int | None = None
                       ) -> list[Account]:
        return await self.meta.read(d.list_accounts(domain_id, tenant_id))

    async def alias(self, address: str) -> Alias | None:
        return await self.meta.read(d.get_alias(address))

    async def aliases(self, domain_id: int | None = None) -> list[Alias]:
        return await self.meta.read(d.list_aliases(domain_id))

    async def scope_domains(self, account_id: int) -> list[int]:
        return await self.meta.read(adm.scope_domains(account_id))

    async def is_sensitive(self, address: str) -> bool:
        return await self.meta.read(adm.is_sensitive_member(address))

    async def sensitive_groups(self, tenant_id: int | None = None) -> list[SensitiveGroupRow]:
        return await self.meta.read(adm.sensitive_groups(tenant_id))

    async def policy(self, tenant_id: int) -> PolicyRow | None:
        return await self.meta.read(adm.get_policy(tenant_id))

    async def audit(self, tenant_id: int | None, *, before_id: int | None = None,
                    limit: int = 200) -> list[AuditRow]:
        return await self.meta.read(adm.list_audit(tenant_id, before_id=before_id, limit=limit))

    async def dkim_keys(self, domain_id: int) -> list[DkimKeyRow]:
        return await self.meta.read(adm.dkim_keys(domain_id, int(time.time())))

    async def wizard_input(self, domain_id: int) -> dict[str, Any] | None:
        return await self.meta.read(adm.get_wizard(domain_id))

    # -- for the mail path: what the wizard decided, ready to use ----------------------------

    async def signing_keys(self, domain: Domain) -> list[DkimKey]:
        """The domain's *active* DKIM keys, decrypted, for the outbound signer (retiring keys
        stay published in DNS but no longer sign)."""
        from rongmail.services.mailauth.dkim import DkimKey

        out = []
        for k in await self.dkim_keys(domain.id):
            if k.state != "active":
                continue
            pem = open_sealed(self.keys, domain.tenant_id, "dkim", k.key_version, k.private_enc)
            out.append(DkimKey(domain.name, k.selector, _DKIM_ALG[k.algorithm], pem))
        return out

    async def mta_sts_policy(self, domain: Domain, *, default_host: str) -> str | None:
        """The MTA-STS policy file for ``domain`` as the wizard publishes it (the same hosts
        and mode as the ``_mta-sts`` TXT record), or None when MTA-STS is off."""
        from rongmail.services.admin.wizard import parse_input, plan_for
        from rongmail.services.dnswizard.plan import mta_sts_policy

        stored = await self.wizard_input(domain.id)
        pi = plan_for(domain.name, parse_input(stored) if stored else None, (),
                      default_host=default_host)
        return None if pi.mta_sts_mode == "none" else mta_sts_policy(pi)

    async def owned_records(self, domain_id: int) -> set[tuple[str, str, str]]:
        return await self.meta.read(adm.owned_records(domain_id))

    async def provider(self, domain: Domain) -> tuple[ProviderRow, dict[str, Any]] | None:
        """The domain's DNS provider settings with decrypted credentials, or None."""
        row = await self.meta.read(adm.get_provider(domain.id))
        if row is None:
            return None
        plain = open_sealed(self.keys, domain.tenant_id, "dns-provider", row.key_version,
                            row.credentials_enc)
        creds: dict[str, Any] = json.loads(plain)
        return row, creds

    async def queue(self, tenant_id: int | None, *, limit: int = 500) -> list[QueueView]:
        rows = await self.meta.read(qs.list_messages(limit=limit))
        return [QueueView(s.message.id, s.message.tenant_id, s.message.mail_from,
                          s.message.size, s.message.created_at, s.total, s.active,
                          s.next_attempt_at, s.message.held, s.last_reply or "")
                for s in rows if tenant_id is None or s.message.tenant_id == tenant_id]

    async def queue_message_tenant(self, message_id: int) -> int | None:
        m = await self.meta.read(qs.get_message(message_id))
        return m.tenant_id if m else None
