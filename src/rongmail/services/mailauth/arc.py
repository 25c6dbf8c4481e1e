"""ARC (RFC 8617) chain validation with dkimpy.

Role: tell the pipeline whether a forwarded message carries a valid chain of custody, so a
local policy may trust an intermediary's earlier SPF/DKIM results when DMARC fails after a
mailing list or forwarder changed the message (RFC 8617 §7.2). ARC never overrides DMARC by
itself here; it is reported in ``Authentication-Results`` (``arc=``, RFC 8617 §10.1) and
exposed to policy.

As for DKIM, the keys named by every ``ARC-Seal`` and ``ARC-Message-Signature`` are fetched
with the async resolver first; dkimpy then validates offline in a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dkim

from rongmail.services.dns import DnsResolver
from rongmail.services.mailauth.dkim import (
    MIN_RSA_BITS,
    KeyLookup,
    key_names,
    prefetch_keys,
    split_header_section,
)

_ARC_HEADERS = (b"ARC-Seal", b"ARC-Message-Signature")
#: RFC 8617 §4.2.1: instance values run from 1 to 50.
MAX_ARC_INSTANCES = 50


@dataclass(frozen=True, slots=True)
class ArcResult:
    result: str  # none | pass | fail (RFC 8617 §4.4: chain validation status)
    #: The highest instance (``i=``) present, 0 when unsigned.
    instances: int
    reason: str = ""
    #: ``d=`` of the newest ARC-Seal, the sealer whose AAR a policy might trust.
    sealer: str = ""


#: The result for a message without any ARC set.
UNSEALED = ArcResult("none", 0)


def is_sealed(message: bytes) -> bool:
    """Whether the message has an ARC set; :func:`verify_arc` answers :data:`UNSEALED` at
    once when it has none."""
    return _count_instances(message)[0] != 0


def _count_instances(message: bytes) -> tuple[int, str]:
    highest, sealer = 0, ""
    for name, value in split_header_section(message):
        if name.lower() != b"arc-seal":
            continue
        tags = dict(
            part.strip().split("=", 1)
            for part in value.decode("ascii", "replace").replace("\r\n", "").split(";")
            if "=" in part
        )
        try:
            i = int(tags.get("i", "0"))
        except ValueError:
            continue
        if i > highest:
            highest, sealer = i, tags.get("d", "").strip().lower()
    return highest, sealer


def _validate(message: bytes, lookup: KeyLookup, minkey: int) -> tuple[str, str]:
    if lookup.failed:
        return "temperror", "key lookup failed: " + ", ".join(sorted(lookup.failed))
    try:
        cv, _results, reason = dkim.ARC(message, minkey=minkey).verify(dnsfunc=lookup.dnsfunc)
    except dkim.DKIMException as e:
        return "fail", str(e)
    status = cv.decode() if isinstance(cv, bytes) else "fail"
    return status, str(reason)


async def verify_arc(
    resolver: DnsResolver, message: bytes, *, minkey: int = MIN_RSA_BITS
) -> ArcResult:
    """Validate the ARC chain (RFC 8617 §5.2). ``none`` when the message has no ARC set."""
    instances, sealer = _count_instances(message)
    if instances == 0:
        return UNSEALED
    if instances > MAX_ARC_INSTANCES:
        return ArcResult("fail", instances, "too many ARC sets", sealer)
    lookup = await prefetch_keys(resolver, key_names(message, _ARC_HEADERS))
    status, reason = await asyncio.to_thread(_validate, message, lookup, minkey)
    if status not in ("pass", "fail", "none", "temperror"):
        status = "fail"
    return ArcResult(status, instances, reason, sealer)
