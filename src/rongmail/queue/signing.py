"""DKIM signing of outgoing mail at the point it leaves (RFC 6376 §5), for every source:
SMTP submission, JMAP EmailSubmission, forwards and our own notices.

The signing domain is the author domain (the RFC 5322 ``From:`` address) when we host it, so
DMARC alignment holds (RFC 7489 §3.1.1). Each hosted domain may hold several keys
(``dkim_key``, sealed with the tenant's data key): every *active* key signs, so RSA-2048 and
Ed25519 signatures travel together (RFC 8463 §3); *retiring* keys stay published but no longer
sign. Keys are cached per domain for a short time; unsealing never touches the event loop's
thread for long (AES-GCM of a few hundred bytes). Local deliveries are not signed.
"""

from __future__ import annotations

import time
from email.utils import getaddresses

from rongmail.actions.context import ActionContext
from rongmail.core.address import normalize_domain
from rongmail.errors import MailError
from rongmail.services.admin.reads import open_sealed
from rongmail.services.mailauth import DkimKey, DkimSigner
from rongmail.store.sql import admin as adm
from rongmail.store.sql import directory as d

CACHE_SECONDS = 300.0
#: ``dkim_key.algorithm`` short names (admin console) -> RFC 6376/8463 ``a=`` values
ALGORITHMS = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}
_MAX_HEADER = 64 * 1024


def author_domain(message: bytes) -> str | None:
    """The domain of the first ``From:`` address, or None."""
    end = message.find(b"\r\n\r\n")
    head = message[: end if end >= 0 else _MAX_HEADER][:_MAX_HEADER].decode("utf-8", "replace")
    lines: list[str] = []
    for line in head.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "from":
            addrs = [a for _, a in getaddresses([value]) if "@" in a]
            if addrs:
                try:
                    return normalize_domain(addrs[0].rpartition("@")[2])
                except MailError:
                    return None
    return None


class DomainSigner:
    def __init__(self, ctx: ActionContext, *, clock: object = time.monotonic) -> None:
        self.ctx = ctx
        self._clock = clock
        self._cache: dict[str, tuple[float, list[DkimKey]]] = {}

    async def keys_for(self, domain: str) -> list[DkimKey]:
        now = self._clock()  # type: ignore[operator]
        hit = self._cache.get(domain)
        if hit is not None and hit[0] > now:
            return hit[1]
        keys: list[DkimKey] = []
        dom = await self.ctx.meta.read(d.get_domain(domain))
        if dom is not None and not dom.disabled:
            rows = await self.ctx.meta.read(adm.dkim_keys(dom.id, int(time.time())))
            for r in rows:
                if r.state != "active":
                    continue
                pem = open_sealed(self.ctx.keys, dom.tenant_id, "dkim", r.key_version,
                                  r.private_enc)
                alg = ALGORITHMS.get(r.algorithm, r.algorithm)
                keys.append(DkimKey(domain, r.selector, alg, pem))  # type: ignore[arg-type]
        self._cache[domain] = (now + CACHE_SECONDS, keys)
        return keys

    def forget(self, domain: str) -> None:
        self._cache.pop(domain, None)

    async def sign(self, message: bytes) -> bytes:
        """The message with DKIM-Signature fields prepended (unchanged when the author domain
        is not ours or has no active key)."""
        domain = author_domain(message)
        if domain is None:
            return message
        keys = await self.keys_for(domain)
        if not keys:
            return message
        return await DkimSigner({domain: keys}).sign(message, domain)
