"""Periodic liveness probes of the spam filter's external scanners (issue 9): clamd and rspamd.

Every ``every`` seconds each :class:`~rongmail.services.spam.scan.ProbedEngine` asks its
engine whether it answers (clamd ``PING``, rspamd ``/ping``: one short connection each, no
message data). An auto-detected scanner started after the server is picked up by the next
probe; one that stops answering is logged once per transition, and messages keep getting
``SCANNER_UNAVAILABLE`` (``spam.scanner_failure`` decides) until it is back. The worker holds
no state of its own and never writes the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from rongmail.services.spam.scan import ProbedEngine

log = logging.getLogger(__name__)


async def probe_once(engines: Sequence[ProbedEngine]) -> list[bool]:
    """Probe every engine concurrently; a probe that raises counts as not answering."""
    results = await asyncio.gather(*(e.probe() for e in engines), return_exceptions=True)
    out = []
    for e, r in zip(engines, results, strict=True):
        if isinstance(r, BaseException):
            log.warning("spam: probing %r failed: %r", e, r)
        out.append(r is True)
    return out


async def run_scanner_probe(engines: Sequence[ProbedEngine], *, every: float = 60.0) -> None:
    """Probe ``engines`` every ``every`` seconds until cancelled (nothing to do: returns)."""
    if not engines or every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        await probe_once(engines)
