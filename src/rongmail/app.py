"""Composition root: reads settings, builds stores, services and listeners (DESIGN.md).

Only this module (and ``cli``) picks concrete adapters. ``open_app`` gives a ready
:class:`App` (store open, keys loaded); ``serve`` starts every enabled listener and runs until
cancelled. Protocol packages expose ``start_<proto>(app_deps...)`` functions returning
``asyncio.Server``-like objects with ``close()`` / ``wait_closed()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rongmail.actions.context import ActionContext
from rongmail.bus import Bus
from rongmail.bus.follower import ChangeFollower, FollowedBus
from rongmail.config import load
from rongmail.config.settings import Settings
from rongmail.core import heap, listen, procs, turns
from rongmail.errors import ConfigError
from rongmail.services.auth.authenticate import Authenticator
from rongmail.services.dns import DnsResolver
from rongmail.services.tls.certs import server_context
from rongmail.store.fs.blobs import FsBlobStore
from rongmail.store.fs.keys import (
    ENV_MASTER,
    KeyRing,
    load_or_create_master,
    promote_next,
    staged_master,
)
from rongmail.store.inline_blobs import InlineBlobStore
from rongmail.store.reader import Reader
from rongmail.store.sql import directory as d

log = logging.getLogger("rongmail")
SHUTDOWN_GRACE = 10.0


@dataclass
class App:
    data_dir: Path
    settings: Settings
    ctx: ActionContext
    reader: Reader
    tls: ssl.SSLContext | None
    #: the one authentication port for every protocol (throttles across protocols)
    auth: Authenticator
    #: the DNS resolver every service shares (one TTL cache)
    resolver: DnsResolver
    servers: list[Any] = field(default_factory=list)
    background: list[asyncio.Task[Any]] = field(default_factory=list)
    scheduler: Any = None
    #: per-tenant spam models (loaded lazily, saved periodically and at shutdown)
    spam_models: Any = None
    #: clamd/rspamd as ``ProbedEngine`` s, re-probed by ``workers.spam_scanners``
    spam_scanners: list[Any] = field(default_factory=list)
    #: ``[server] workers`` > 1: the SMTP/IMAP/POP3 listening sockets every process accepts
    #: from and the load board (bound by the primary, inherited by workers; ``core.listen``)
    shared: listen.SharedListeners | None = None

    async def close(self) -> None:
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                await self.scheduler.stop()
        for t in self.background:
            t.cancel()
        for t in self.background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for s in self.servers:
            s.close()
        for s in self.servers:
            # bounded: a peer that never answers a TLS close must not block the shutdown
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.wait_closed(), SHUTDOWN_GRACE)
        if self.shared is not None:
            self.shared.close()
        await self.ctx.meta.close()


def build_meta(data_dir: Path, settings: Settings) -> Any:
    st = settings.storage
    if st.backend == "postgres":
        from rongmail.store.postgres.meta import PostgresMeta

        return PostgresMeta(st.postgres_dsn, schema=st.postgres_schema or None,
                            max_size=st.postgres_pool_max)
    from rongmail.store.sqlite.meta import SqliteMeta

    return SqliteMeta(data_dir / st.sqlite_path, readers=st.sqlite_readers,
                      process_lock=settings.server.workers > 1)


async def open_app(data_dir: Path, settings: Settings | None = None, *,
                   create_keys: bool = False) -> App:
    settings = settings or load(data_dir)
    keys_dir = data_dir / settings.storage.keys_dir
    master = load_or_create_master(keys_dir, create=create_keys)
    keys = KeyRing(master)
    meta = build_meta(data_dir, settings)
    await meta.open()
    try:
        rows = await meta.read(d.tenant_keys())
        try:
            keys.load(rows)
        except ConfigError:
            # an interrupted `keys rotate-master`: the database already holds keys wrapped by
            # the staged key; promote it.
            staged = staged_master(keys_dir)
            if staged is None or os.environ.get(ENV_MASTER):
                raise
            keys = KeyRing(staged)
            keys.load(rows)
            promote_next(keys_dir)
            log.warning("recovered an interrupted master key rotation")
    except BaseException:
        await meta.close()
        raise
    files = FsBlobStore(data_dir / settings.storage.blob_dir, keys)
    blobs = InlineBlobStore(files, meta, inline_max=settings.storage.inline_blob_max)
    bus = FollowedBus() if follows_changes(settings) else Bus()
    ctx = ActionContext(meta=meta, blobs=blobs, bus=bus, keys=keys, settings=settings)
    tls = None
    cert = data_dir / settings.tls.cert_file
    key = data_dir / settings.tls.key_file
    if cert.exists() and key.exists():
        tls = server_context(cert, key, min_version=settings.tls.min_version)
    reader = Reader(meta, blobs)
    resolver = DnsResolver.from_config(settings.queue.dns)
    auth = build_authenticator(data_dir, settings, ctx, reader)
    from rongmail.actions.spam import SpamModels

    return App(data_dir, settings, ctx, reader, tls, auth, resolver, spam_models=SpamModels(ctx))


def build_authenticator(data_dir: Path, settings: Settings, ctx: ActionContext,
                        reader: Reader) -> Authenticator:
    """The one auth port with the identity layer: audit chain key (outside the database),
    offline GeoIP, risk settings and the action-backed recorder (issue 8)."""
    from rongmail.actions.auth import AuthRecorder
    from rongmail.services.auth.audit import load_or_create_audit_key
    from rongmail.services.auth.authenticate import SecurityDeps
    from rongmail.services.auth.geoip import GeoIp

    sec = settings.security
    key = load_or_create_audit_key(data_dir / sec.audit_key_file)
    recorder = AuthRecorder(ctx, key, webhook=sec.alert_webhook, alert_mail=sec.alert_mail)
    from rongmail.services.auth.ldap import LdapDirectory

    ldap = LdapDirectory(sec.ldap) if sec.ldap.enabled else None
    from rongmail.actions.lockouts import StoreThrottle

    return Authenticator(reader, security=SecurityDeps(
        sec, recorder, GeoIp(data_dir / sec.geoip_path,
                             [data_dir / p for p in sec.geoip_region_paths]),
        settings.server.timezone, ldap),
        throttle=StoreThrottle(ctx))


def follows_changes(settings: Settings) -> bool:
    """Whether this node's processes tail the change log (``bus.follower``)."""
    return settings.server.workers > 1 or settings.server.follow_changes


async def start_follower(app: App) -> ChangeFollower:
    """Publish on this process's bus the changes other processes/nodes commit (a background
    task, cancelled by ``App.close``). Starts after the highest change id now."""
    from rongmail.store.sql import changelog

    bus = app.ctx.bus
    assert isinstance(bus, FollowedBus), "open_app builds a FollowedBus when changes are followed"
    meta = app.ctx.meta

    async def fetch(after: int) -> Any:
        return await meta.read(changelog.changes_after_id(after))

    start = await meta.read(changelog.last_change_id())
    follower = ChangeFollower(bus, fetch, start, interval=app.settings.server.follow_interval)
    app.background.append(asyncio.create_task(follower.run()))
    return follower


async def start_listeners(app: App, *, worker: bool = False) -> list[str]:
    """Start every enabled listener; return "name host:port" lines for the banner.

    Each protocol is imported here, explicitly (this is the composition root). A ``worker``
    process (``[server] workers`` > 1) serves only SMTP, IMAP and POP3; with several processes
    those listeners serve ``app.shared`` (see :func:`bind_shared`)."""
    enabled = app.settings.listeners.enabled()
    started: list[str] = []
    shared = app.shared
    http_names = [n for n in ("http", "https") if n in enabled and not worker]
    if http_names:
        from rongmail.protocols.http.server import HttpDeps, build_http_app, start_http

        deps = HttpDeps(settings=app.settings, ctx=app.ctx, reader=app.reader, auth=app.auth,
                        extra={"spam_models": app.spam_models})
        web_app = build_http_app(deps, http_registrars())
        for name in http_names:
            host, port = enabled[name]
            runner = await start_http(web_app, host, port, app.tls if name == "https" else None)
            app.servers.append(_RunnerServer(runner))
            started.append(f"{name} {host}:{port}")
    # -- SMTP inbound and submission (protocols/smtp, pipeline) --
    smtp_listeners: dict[str, tuple[str, int]] = {
        n: enabled[n] for n in ("smtp", "submission", "submissions") if n in enabled}
    if smtp_listeners:
        started += await _start_smtp(app, smtp_listeners, shared=shared)
    # -- IMAP (protocols/imap): "imap" with STARTTLS, "imaps" with implicit TLS --
    if "imap" in enabled or "imaps" in enabled:
        from rongmail.protocols.imap.server import start_imap

        imap = await start_imap(ctx=app.ctx, reader=app.reader, settings=app.settings,
                                authenticator=app.auth, tls=app.tls, shared=shared)
        app.servers.extend(imap)
        started += [f"{n} {enabled[n][0]}:{enabled[n][1]}" for n in ("imap", "imaps")
                    if n in enabled and (n == "imap" or app.tls is not None)]
    # -- POP3 (protocols/pop3): "pop3" with STLS, "pop3s" with implicit TLS (needs app.tls) --
    pop3_listeners: dict[str, tuple[str, int]] = {
        n: enabled[n] for n in ("pop3", "pop3s")
        if n in enabled and (n == "pop3" or app.tls is not None)}
    if pop3_listeners:
        from rongmail.protocols.pop3.server import start_pop3

        pop3 = await start_pop3(
            ctx=app.ctx, reader=app.reader, authenticator=app.auth,
            settings=app.settings.pop3,
            hostname=app.settings.server.hostname, listeners=pop3_listeners, tls=app.tls,
            shared=shared,
        )
        app.servers.append(pop3)
        started += [f"{n} {h}:{p}" for n, (h, p) in pop3.addresses.items()]
    # -- end POP3 --
    return started


def bind_shared(app: App) -> listen.SharedListeners:
    """The primary's listening sockets for the listeners every serving process shares (SMTP,
    submission, IMAP, POP3; implicit-TLS ones only with a certificate, as
    :func:`start_listeners` serves them) and the load board: a connection goes to a process
    with spare capacity (``core.listen`` says why not SO_REUSEPORT)."""
    enabled = app.settings.listeners.enabled()
    names = ["smtp", "submission", "imap", "pop3"]
    if app.tls is not None:
        names += ["submissions", "imaps", "pop3s"]
    return listen.SharedListeners.bind({n: enabled[n] for n in names if n in enabled},
                                       app.settings.server.workers)


async def _start_smtp(app: App, listeners: dict[str, tuple[str, int]], *,
                      shared: listen.SharedListeners | None = None) -> list[str]:
    from rongmail.pipeline.authenticator import SmtpAuthenticator
    from rongmail.pipeline.delivery import ActionDelivery
    from rongmail.pipeline.directory import StoreDirectory
    from rongmail.pipeline.quarantine import QuarantineDelivery
    from rongmail.pipeline.runner import Runner
    from rongmail.pipeline.stages import default_stages
    from rongmail.pipeline.vacation import VacationDelivery
    from rongmail.protocols.smtp.server import start_smtp
    from rongmail.protocols.smtp.session import SmtpServices

    st = app.settings.smtp
    hostname = st.hostname or app.settings.server.hostname
    directory = StoreDirectory(app.reader)
    engines = await spam_engines(app.settings)
    app.spam_scanners = [e for e in (engines[0], *engines[1]) if e is not None]
    smtp = await start_smtp(
        settings=st,
        services=SmtpServices(
            runner=Runner(default_stages(
                st, directory, hostname=hostname,
                data_stages=data_stages(app, engines))),
            directory=directory,
            delivery=VacationDelivery(
                QuarantineDelivery(ActionDelivery(app.ctx, app.reader), app.ctx),
                app.ctx, app.reader),
            authenticator=SmtpAuthenticator(app.auth),
        ),
        hostname=hostname, listeners=listeners, tls=app.tls, shared=shared,
    )
    app.servers.append(smtp)
    warm_up_inbound()
    return [f"{n} {h}:{p}" for n, (h, p) in smtp.addresses.items()]


def warm_up_inbound() -> None:
    """Load now what the first inbound message would otherwise load lazily: the Public Suffix
    List of the spam stage (``services.spam.urls``) and of DMARC (``services.mailauth.dmarc``),
    each parsed once per process (about 45 ms of CPU each), and the content classifier with
    NumPy (about 0.2 s; only processes that serve SMTP load it, see ``services.spam``). Done at
    start (before ``heap.settle`` freezes the start-up heap), every serving process pays it
    outside any session, instead of the first sessions of each process waiting for it."""
    from rongmail.services.mailauth.dmarc import organizational_domain
    from rongmail.services.spam import classifier  # noqa: F401 - loaded for the first message
    from rongmail.services.spam.urls import registrable

    registrable("mail.example.com")
    organizational_domain("mail.example.com")


async def spam_engines(settings: Settings) -> tuple[Any, list[Any]]:
    """The external scanners of ``[spam]`` (issue 9): (clamd scanner or None, [rspamd]).

    A configured address is used even if it does not answer yet (``spam.scanner_failure``
    then applies per message); with an empty address, ``auto_detect`` probes
    ``detect_address``/``detect_url`` (Debian's defaults) at start, and
    ``workers.spam_scanners`` re-probes every ``spam.probe_interval`` seconds, so a scanner
    started later is used from then on (``services.spam.scan.ProbedEngine``)."""
    from rongmail.services.spam.clamd import ClamdScanner
    from rongmail.services.spam.rspamd import RspamdClient
    from rongmail.services.spam.scan import ProbedEngine

    sp = settings.spam
    virus: Any = None
    c = sp.clamd
    if c.address or c.auto_detect:
        scanner = ClamdScanner.from_address(c.address or c.detect_address,
                                            timeout=c.timeout, raise_errors=True)
        up = await scanner.available()
        virus = ProbedEngine(scanner, configured=bool(c.address), up=up)
        log.info("spam: clamd %s (%s, %s)", scanner, "answering" if up else "NOT answering",
                 "configured" if c.address else "auto-detect")
    external: list[Any] = []
    r = sp.rspamd
    if r.url or r.auto_detect:
        client = RspamdClient(r.url or r.detect_url, timeout=r.timeout, raise_errors=True)
        up = await client.available()
        external.append(ProbedEngine(client, configured=bool(r.url), up=up))
        log.info("spam: rspamd %s (%s, %s)", client, "answering" if up else "NOT answering",
                 "configured" if r.url else "auto-detect")
    return virus, external


def data_stages(app: App, engines: tuple[Any, list[Any]] = (None, [])) -> list[Any]:
    """Stages run on the message content, in order (mail authentication, spam, ...)."""
    from rongmail.pipeline.stages.mailauth import MailAuthStage
    from rongmail.pipeline.stages.spam import MemoMailAuthenticator, SpamStage, blocklists
    from rongmail.services.spam import Thresholds
    from rongmail.services.spam.dnsbl import DnsPythonResolver

    hostname = app.settings.smtp.hostname or app.settings.server.hostname
    # one SPF/DKIM/DMARC evaluation per message, shared by the mailauth and spam stages
    mailauth = MemoMailAuthenticator(app.resolver, authserv_id=hostname)
    from rongmail.pipeline.stages.outbound import OutboundStage, action_alert

    models = app.spam_models
    sp = app.settings.spam
    qdns = app.settings.queue.dns
    resolver = None
    if sp.dnsbl or sp.uribl:
        servers = list(sp.dns_nameservers) or [
            f"[{ns}]:{qdns.port}" if ":" in ns else f"{ns}:{qdns.port}" for ns in qdns.nameservers]
        resolver = DnsPythonResolver(servers or None, timeout=sp.dns_timeout)
    virus, external = engines
    thresholds = Thresholds(sp.junk_score, sp.quarantine_score, sp.reject_score)
    spam = SpamStage(
        app.ctx.meta, models, auth=mailauth, resolver=resolver,
        dnsbl_zones=blocklists(sp.dnsbl, "RBL_LISTED"),
        uribl_zones=blocklists(sp.uribl, "URIBL_LISTED"), virus_scanner=virus,
        external=external, budget=sp.budget, enabled=sp.enabled, thresholds=thresholds,
        scanner_failure=sp.scanner_failure, first_contact=sp.first_contact)
    stages: list[Any] = [MailAuthStage(mailauth), spam]
    ob = sp.outbound
    if ob.enabled:
        stages.append(OutboundStage(
            app.ctx.meta, models, alert=action_alert(app.ctx),
            burst_per_minute=ob.burst_per_minute, hourly_floor=ob.hourly_floor,
            growth=ob.growth, cooldown=ob.cooldown, thresholds=thresholds,
            content_enabled=sp.enabled))
    return stages


def http_registrars() -> list[Callable[..., None]]:
    """Route registrations of the HTTP feature packages, in order."""
    from rongmail.protocols import jmap  # JMAP + web login (issue 5)
    from rongmail.protocols.http import (
        admin,
        autoconfig,
        login,
        quarantine,
        security,
        static_web,
    )

    return [login.register, security.register, jmap.register, autoconfig.register,
            static_web.register, admin.register, quarantine.register]


class _RunnerServer:
    """Adapts an aiohttp AppRunner to the close()/wait_closed() shape of asyncio servers."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self._task: asyncio.Task[Any] | None = None

    def close(self) -> None:
        self._task = asyncio.ensure_future(self.runner.cleanup())

    async def wait_closed(self) -> None:
        if self._task is not None:
            await self._task


def start_workers(app: App) -> None:
    """Background workers of a serving node: the outbound queue, blob GC, housekeeping
    (retention), the spam learner, model saver, quarantine digest and scanner probe."""
    from rongmail.queue import build_scheduler
    from rongmail.workers.gc import run_forever as blob_gc

    hostname = app.settings.smtp.hostname or app.settings.server.hostname
    scheduler = build_scheduler(app.ctx, app.resolver, app.settings.queue, hostname=hostname)
    app.scheduler = scheduler
    app.background.append(asyncio.create_task(scheduler.run()))
    blobs = app.ctx.blobs
    if isinstance(blobs, InlineBlobStore):
        blobs = blobs.files
    if isinstance(blobs, FsBlobStore):
        app.background.append(asyncio.create_task(blob_gc(app.ctx.meta, blobs)))
    from rongmail.workers.quarantine_digest import run_quarantine_digest
    from rongmail.workers.spam_learner import run_spam_learner

    app.background.append(asyncio.create_task(
        run_spam_learner(app.ctx, app.reader, app.spam_models)))
    app.background.append(asyncio.create_task(app.spam_models.run_saver()))
    app.background.append(asyncio.create_task(run_quarantine_digest(app.ctx)))
    from rongmail.services.auth.audit import load_or_create_audit_key
    from rongmail.workers.housekeeping import run_housekeeping

    audit_key = load_or_create_audit_key(app.data_dir / app.settings.security.audit_key_file)
    app.background.append(asyncio.create_task(run_housekeeping(app.ctx, audit_key=audit_key)))
    from rongmail.workers.spam_scanners import run_scanner_probe

    app.background.append(asyncio.create_task(
        run_scanner_probe(app.spam_scanners, every=app.settings.spam.probe_interval)))


async def serve(data_dir: Path, *, ready: Callable[[App, list[str]], None] | None = None) -> None:
    """Run a serving node until SIGTERM/SIGINT.

    ``[server] workers`` = 1: one process. N > 1: this (primary) process also starts N-1
    worker processes (``core.procs.Supervisor``) running this same function with
    ``procs.WORKER_ENV`` set; they serve SMTP/IMAP/POP3 on the shared ports and stop with the
    primary. Every process then follows the change log (``bus.follower``)."""
    # signal handlers first: a SIGTERM during start-up must still stop cleanly
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    role = procs.worker_role()
    if role is not None:
        procs.die_with_parent(role.parent)
    app = await open_app(data_dir)
    turns.share_interpreter(app.settings.server.switch_interval)
    supervisor: procs.Supervisor | None = None
    try:
        if follows_changes(app.settings):
            await start_follower(app)
        if role is not None:
            app.shared = listen.SharedListeners.inherited(os.environ)
            await _serve_worker(app, role, stop)
            return
        workers = app.settings.server.workers
        if workers > 1:
            app.shared = bind_shared(app)
        lines = await start_listeners(app)
        start_workers(app)
        if workers > 1:
            supervisor = procs.Supervisor(
                [sys.executable, "-m", "rongmail", "serve", "--data-dir", str(data_dir)],
                workers - 1, shared=app.shared)
            supervisor.start()
            app.background.append(asyncio.create_task(supervisor.run()))
        heap.settle()
        app.background.append(asyncio.create_task(heap.trim_forever()))
        if ready:
            ready(app, lines)
        await stop.wait()
        log.info("stopping: closing listeners, finishing in-flight writes")
    finally:
        if supervisor is not None:
            supervisor.terminate()
        await app.close()
        if supervisor is not None:
            await supervisor.wait(SHUTDOWN_GRACE + 5)


async def _serve_worker(app: App, role: procs.WorkerRole, stop: asyncio.Event) -> None:
    """A worker process: SMTP/IMAP/POP3 on the shared ports; the queue, GC, spam learner and
    digest, and HTTP/JMAP stay in the primary (the queue picks up mail a worker enqueued at
    its next poll)."""
    from rongmail.workers.spam_scanners import run_scanner_probe

    lines = await start_listeners(app, worker=True)
    app.background.append(asyncio.create_task(
        run_scanner_probe(app.spam_scanners, every=app.settings.spam.probe_interval)))
    heap.settle()
    app.background.append(asyncio.create_task(heap.trim_forever()))
    log.info("worker %d (pid %d) serving: %s", role.index, os.getpid(), ", ".join(lines))
    await stop.wait()
    log.info("worker %d stopping: finishing in-flight writes", role.index)
