"""The entry point a pipeline stage calls: :func:`analyze` (all analyzers, tags out).

``analyze`` runs the synchronous analyzers (content model, rules, phishing, attachments) on a
worker thread so the event loop never blocks on regular expressions, archives or YARA, and the
I/O-bound ones (DNSBL/URIBL, clamd, rspamd) concurrently on the loop. It never raises for a
misbehaving analyzer: the failure is logged and that analyzer contributes no tags. A scanner
that raises :class:`~.context.ScannerUnavailable` contributes ``SCANNER_UNAVAILABLE`` (score 0)
instead, which the pipeline stage turns into its configured failure policy.

:class:`ProbedEngine` wraps clamd or rspamd for the live server: ``app.py`` passes it as the
context's virus scanner / external filter and a worker (:mod:`rongmail.workers.spam_scanners`)
calls :meth:`ProbedEngine.probe` periodically. A *configured* engine is always asked; an
*auto-detected* one is used from the first probe it answers (at start or later: a scanner
installed after the server started is picked up without a restart) and stays in use
afterwards, so one that disappears keeps producing ``SCANNER_UNAVAILABLE`` exactly as a
configured one does. Each probe logs the transitions (detected, stopped answering, back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from rongmail.mime.model import ParsedMessage

from . import attachments, dnsbl, phishing, rules
from .context import ExternalFilter, ScanContext, ScannerUnavailable
from .tags import Tag, tag

__all__ = ["ProbedEngine", "analyze", "analyze_sync", "model_tags"]

log = logging.getLogger(__name__)

Analyzer = Callable[[ParsedMessage, ScanContext], list[Tag]]


class Probeable(Protocol):
    """What :class:`ProbedEngine` needs: a cheap liveness check (clamd ``PING``, rspamd
    ``/ping``) that never raises."""

    async def available(self) -> bool: ...


class ProbedEngine:
    """A clamd scanner or rspamd client whose use follows periodic probes (see the module
    docstring). Implements both :class:`~.context.VirusScanner` (``scan``) and
    :class:`~.context.ExternalFilter` (``tags``) by delegation; only the one the wrapped engine
    has may be called. Not in use: ``scan`` answers clean and ``tags`` nothing, as if the
    engine were not configured."""

    def __init__(self, engine: Probeable, *, configured: bool, up: bool | None = None) -> None:
        self.engine = engine
        #: asked for every message (configured, or answered a probe once)
        self.in_use = configured or bool(up)
        #: the last probe's answer (``None``: not probed yet)
        self.up = up

    def __repr__(self) -> str:
        return f"{self.engine!r}"

    async def probe(self) -> bool:
        """Ask the engine whether it answers; log and record a change. Returns the answer."""
        up = await self.engine.available()
        if up and not self.in_use:
            log.warning("spam: %r detected (answers its probe): now scanning with it", self.engine)
            self.in_use = True
        elif up and self.up is False:
            log.warning("spam: %r answers again", self.engine)
        elif not up and self.in_use and self.up is not False:
            log.warning(
                "spam: %r stopped answering: messages are tagged SCANNER_UNAVAILABLE "
                "(spam.scanner_failure applies)",
                self.engine,
            )
        self.up = up
        return up

    async def scan(self, data: bytes) -> str | None:
        if not self.in_use:
            return None
        found: str | None = await self.engine.scan(data)  # type: ignore[attr-defined]
        return found

    async def tags(self, raw: bytes, ctx: ScanContext) -> list[Tag]:
        if not self.in_use:
            return []
        out: list[Tag] = await self.engine.tags(raw, ctx)  # type: ignore[attr-defined]
        return out


def model_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    """The content model's verdict as one label tag (nothing when no model is configured)."""
    model = ctx.model
    if model is None:
        return []
    from .classifier import label  # loaded with the model (NumPy: see the package doc)

    if not model.trained:
        return [tag(label(0.5, trained=False).value)]
    p = model.score(model.features(msg))
    return [tag(label(p).value, f"p={p:.3f}")]


SYNC_ANALYZERS: tuple[Analyzer, ...] = (
    model_tags,
    rules.header_tags,
    rules.auth_tags,
    rules.structure_tags,
    rules.content_tags,
    phishing.phishing_tags,
    attachments.attachment_tags,
)


def analyze_sync(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    """Every synchronous analyzer, in order; CPU-bound, call it off the event loop."""
    out: list[Tag] = []
    for fn in SYNC_ANALYZERS:
        try:
            out.extend(fn(msg, ctx))
        except Exception:  # noqa: BLE001 - one broken analyzer must not lose the message
            log.exception("spam analyzer %s failed", fn.__qualname__)
    return list(dict.fromkeys(out))


async def _virus_tags(msg: ParsedMessage, ctx: ScanContext) -> list[Tag]:
    if ctx.virus_scanner is None or ctx.raw is None:
        return []
    parts = await asyncio.to_thread(attachments.payloads, ctx.raw, msg)
    out: list[Tag] = []
    for p in parts:
        try:
            found = await ctx.virus_scanner.scan(p.data)
        except ScannerUnavailable as e:
            return [*out, tag("SCANNER_UNAVAILABLE", str(e))]
        if found:
            out.append(tag("VIRUS_FOUND", f"{found}: {p.filename or p.part_id}"))
    return out


async def _one_external(f: ExternalFilter, raw: bytes, ctx: ScanContext) -> list[Tag]:
    try:
        return await f.tags(raw, ctx)
    except ScannerUnavailable as e:
        return [tag("SCANNER_UNAVAILABLE", str(e))]


async def _external_tags(ctx: ScanContext) -> list[Tag]:
    if ctx.raw is None or not ctx.external:
        return []
    raw = ctx.raw
    results = await asyncio.gather(*(_one_external(f, raw, ctx) for f in ctx.external))
    return [t for r in results for t in r]


async def analyze(
    msg: ParsedMessage, ctx: ScanContext, *, timeout: float = 20.0, inline: bool = False
) -> list[Tag]:
    """All tags for ``msg``: ``Policy.decide(await analyze(msg, ctx))`` gives the verdict.

    Each step is bounded by ``timeout`` seconds (the analyzers' own limits keep them far below
    it); a step that overruns is logged and contributes no tags. ``inline``: run the
    synchronous analyzers on the calling (event loop) thread; for a small message without
    attachments they take well under a millisecond and hold the GIL anyway, so a worker
    thread would only add a hand-off. The I/O steps (DNSBL/URIBL, virus scanner, external
    filters) run concurrently, and only those the context configures: one that would answer
    nothing costs no task. Tags keep the order sync, DNSBL, virus, external.
    """

    async def bounded(aw: Awaitable[list[Tag]]) -> list[Tag]:
        async with asyncio.timeout(timeout):
            return await aw

    out: list[Tag] = []
    steps: list[Awaitable[list[Tag]]] = []
    if inline:
        try:
            out.extend(analyze_sync(msg, ctx))
        except Exception as e:  # noqa: BLE001 - same as a failed threaded step
            log.error("spam analysis step failed: %r", e)
    else:
        steps.append(asyncio.to_thread(analyze_sync, msg, ctx))
    if ctx.resolver is not None:
        steps.append(dnsbl.dnsbl_tags(msg, ctx))
    if ctx.virus_scanner is not None and ctx.raw is not None:
        steps.append(_virus_tags(msg, ctx))
    if ctx.raw is not None and ctx.external:
        steps.append(_external_tags(ctx))
    if steps:
        results = await asyncio.gather(*(bounded(s) for s in steps), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                log.error("spam analysis step failed: %r", r)
                continue
            out.extend(r)
    return list(dict.fromkeys(out))
