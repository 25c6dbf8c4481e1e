"""Message authentication: SPF, DKIM (verify and sign), DMARC, ARC and Authentication-Results.

Entry points for the rest of RongMail:

* :class:`MailAuthenticator` ``.check(message, ip=, helo=, mail_from=)`` — the inbound
  pipeline's ``mailauth`` stage calls this once per message after DATA; it returns an
  :class:`AuthVerdict` with every result, the ``Authentication-Results`` value to keep as
  metadata and the DMARC disposition (accept / junk / reject).
* :class:`DkimSigner` ``.sign(message, domain)`` — submission signs with every key of the
  author domain (RSA-2048 and Ed25519 together).
* :func:`generate_dkim_key` — the admin/DNS wizard creates a key and shows its TXT record.

Library choices and why are in each module docstring (``spf.py``, ``dkim.py``, ``dmarc.py``).
All DNS goes through :class:`rongmail.services.dns.DnsResolver`; blocking library calls run in
worker threads.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rongmail.services.dns import DnsResolver
from rongmail.services.mailauth.arc import UNSEALED, ArcResult, is_sealed, verify_arc
from rongmail.services.mailauth.dkim import (
    DkimKey,
    DkimResult,
    DkimSigner,
    GeneratedKey,
    generate_dkim_key,
    sign_dkim,
    signature_key_names,
    verify_dkim,
)
from rongmail.services.mailauth.dmarc import (
    Disposition,
    DmarcRecord,
    DmarcResult,
    Policy,
    check_dmarc,
    organizational_domain,
    parse_record,
)
from rongmail.services.mailauth.results import (
    HEADER_NAME,
    authserv_id_of,
    build_authentication_results,
    header_line,
)
from rongmail.services.mailauth.spf import SpfCache, SpfResult, SpfVerdict, check_spf


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    spf: SpfVerdict
    dkim: tuple[DkimResult, ...]
    dmarc: DmarcResult
    arc: ArcResult
    #: The Authentication-Results field value (RFC 8601), without the field name.
    header: str

    @property
    def disposition(self) -> Disposition:
        return self.dmarc.disposition


class MailAuthenticator:
    """Runs SPF, DKIM and ARC concurrently, then DMARC on their results. SPF results are
    reused through an :class:`SpfCache` (per client IP, sender, HELO; bounded by the DNS
    TTLs, see ``spf.py``) unless ``spf_cache`` is ``None``."""

    def __init__(
        self,
        resolver: DnsResolver,
        *,
        authserv_id: str,
        spf_timeout: float = 20.0,
        rng: Callable[[], float] = random.random,
        spf_cache: SpfCache | None | Literal["default"] = "default",
    ) -> None:
        self.resolver = resolver
        self.spf_cache = SpfCache() if spf_cache == "default" else spf_cache
        self.authserv_id = authserv_id
        self.spf_timeout = spf_timeout
        self._rng = rng

    async def check(self, message: bytes, *, ip: str, helo: str, mail_from: str) -> AuthVerdict:
        spf_check = check_spf(
            self.resolver,
            ip=ip,
            mail_from=mail_from,
            helo=helo,
            receiver=self.authserv_id,
            timeout=self.spf_timeout,
            cache=self.spf_cache,
        )
        dkim: list[DkimResult]
        if not signature_key_names(message) and not is_sealed(message):
            # Unsigned and unsealed: verify_dkim would answer [] and verify_arc UNSEALED
            # without awaiting anything, so SPF runs alone, with no tasks to run beside it.
            spf, dkim, arc = await spf_check, [], UNSEALED
        else:
            spf, dkim, arc = await asyncio.gather(
                spf_check, verify_dkim(self.resolver, message), verify_arc(self.resolver, message)
            )
        dmarc = await check_dmarc(self.resolver, message, spf, dkim, rng=self._rng)
        header = build_authentication_results(
            self.authserv_id, spf=spf, dkim=dkim, dmarc=dmarc, arc=arc
        )
        return AuthVerdict(spf, tuple(dkim), dmarc, arc, header)


__all__ = [
    "HEADER_NAME",
    "ArcResult",
    "AuthVerdict",
    "DkimKey",
    "DkimResult",
    "DkimSigner",
    "Disposition",
    "DmarcRecord",
    "DmarcResult",
    "GeneratedKey",
    "MailAuthenticator",
    "Policy",
    "SpfCache",
    "SpfResult",
    "SpfVerdict",
    "authserv_id_of",
    "build_authentication_results",
    "check_dmarc",
    "check_spf",
    "generate_dkim_key",
    "header_line",
    "organizational_domain",
    "parse_record",
    "sign_dkim",
    "verify_arc",
    "verify_dkim",
]
