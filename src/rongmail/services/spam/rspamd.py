"""rspamd as an optional external filter, through its HTTP protocol (``POST /checkv2``).

rspamd's verdict is untrusted model-like output (DESIGN.md rule 7): only its *action* is used,
mapped to a closed set of tags (``RSPAMD_*``); its own symbols are kept in the tag detail for
administrators, never scored one by one. ``app.py`` builds an :class:`RspamdClient` when
``spam.rspamd`` is configured, or auto-detected on 127.0.0.1:11333 (:meth:`RspamdClient.available`
answers at start). A failing or slow rspamd contributes no tag, or, with ``raise_errors=True``
(what ``app.py`` builds), raises :class:`~.context.ScannerUnavailable` so the pipeline applies
``spam.scanner_failure``: mail is never lost because of it.

Envelope data goes in the documented request headers (``IP``, ``Helo``, ``From``) so rspamd's
own SPF/RBL modules see the real client.
"""

from __future__ import annotations

import logging

import aiohttp

from .context import ScanContext, ScannerUnavailable
from .tags import Tag, tag

__all__ = ["RspamdClient", "action_tag"]

log = logging.getLogger(__name__)

_ACTIONS = {
    "reject": "RSPAMD_SPAM_HIGH",
    "rewrite subject": "RSPAMD_SPAM",
    "add header": "RSPAMD_SPAM",
    "soft reject": "RSPAMD_SUSPECT",
    "greylist": "RSPAMD_SUSPECT",
    "no action": "RSPAMD_HAM",
}


def action_tag(reply: dict[str, object]) -> Tag | None:
    """The closed-set tag for an rspamd ``/checkv2`` JSON reply, or ``None`` if unusable."""
    action = reply.get("action")
    name = _ACTIONS.get(action) if isinstance(action, str) else None
    if name is None:
        return None
    symbols = reply.get("symbols")
    top = ""
    if isinstance(symbols, dict):
        scored = sorted(
            ((k, v.get("score", 0.0)) for k, v in symbols.items() if isinstance(v, dict)),
            key=lambda kv: -abs(float(kv[1])),
        )
        top = " ".join(f"{k}({float(s):+.1f})" for k, s in scored[:8])
    score = reply.get("score")
    detail = f"score={float(score):.1f} {top}" if isinstance(score, int | float) else top
    return tag(name, detail.strip())


class RspamdClient:
    """Scans raw messages with a running rspamd normal worker (``http://host:11333``)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:11333",
        *,
        timeout: float = 10.0,
        raise_errors: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.raise_errors = raise_errors

    def __repr__(self) -> str:
        return f"RspamdClient({self.url})"

    def _failed(self, why: str) -> list[Tag]:
        log.warning("rspamd scan failed: %s", why)
        if self.raise_errors:
            raise ScannerUnavailable(f"rspamd: {why}")
        return []

    async def available(self) -> bool:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as s:
                async with s.get(f"{self.url}/ping") as r:
                    return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def tags(self, raw: bytes, ctx: ScanContext) -> list[Tag]:
        headers = {"Content-Type": "message/rfc822"}
        if ctx.client_ip:
            headers["IP"] = ctx.client_ip
        if ctx.helo:
            headers["Helo"] = ctx.helo
        if ctx.envelope_from:
            headers["From"] = ctx.envelope_from
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as s:
                async with s.post(f"{self.url}/checkv2", data=raw, headers=headers) as r:
                    if r.status != 200:
                        return self._failed(f"HTTP {r.status}")
                    reply = await r.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            return self._failed(repr(e))
        t = action_tag(reply) if isinstance(reply, dict) else None
        return [t] if t else []
