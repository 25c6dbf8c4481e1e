"""The outbound queue scheduler: picks due recipients, hands them to agents, records outcomes.

Role: the loop between the durable queue (``store/sql/queue.py``) and the delivery agents.

* **Claiming.** :func:`store.sql.queue.claim_due` leases due recipients (``next_attempt_at``
  pushed :data:`LEASE_SECONDS` ahead) so a crash or a second node never starts the same attempt
  twice within a lease; in-process, recipients already in flight are skipped. A poll first
  reads whether anything is due (:func:`store.sql.queue.any_due`), so an idle queue's poll
  opens no write transaction.
* **Grouping.** Recipients of one message with one destination (``local``, ``route:<name>``,
  or the recipient domain) form one job of at most ``batch_size``: one SMTP transaction with
  several RCPTs, or one local transaction.
* **Shaping.** A global limit (``concurrency``), a per-destination limit and an optional
  per-destination message rate (``destinations``; QQ Mail and 163 throttle aggressive senders).
* **Outcomes.** Each recipient gets ``delivered``/``failed``, or ``deferred`` with the next
  attempt from ``retry.py``; past the lifetime it fails with 4.4.7 (RFC 3463). Delays produce
  a notice at once; failures are collected by :meth:`Scheduler.sweep_bounces` into one DSN per
  message, queued (null reverse-path) in the transaction that marks them reported. Finished
  messages are purged (:meth:`Scheduler.purge_finished`): after this scheduler saw a message
  finish, and every :data:`PURGE_CHECK_POLLS` polls for what finished elsewhere.

Invariant: every claimed recipient ends its attempt with one recorded outcome, or its lease is
released (cancellation at shutdown) — never silently dropped.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rongmail.actions import queue as qa
from rongmail.actions.context import ActionContext
from rongmail.config.queue import QueueSettings
from rongmail.errors import MailError
from rongmail.queue import dsn as dsnlib
from rongmail.queue import retry
from rongmail.queue.agents.base import DeliveryAgent, DeliveryJob, Outcome
from rongmail.queue.agents.relay import find_route
from rongmail.store.sql import queue as qs

log = logging.getLogger(__name__)

LEASE_SECONDS = 1800
#: polls between looks for finished messages when this scheduler saw none finish (messages
#: finished by another node, or by an admin's action); the look scans every queued message
#: (``store.sql.queue.any_finished``: ~8 ms for 20,000 deferred ones on SQLite)
PURGE_CHECK_POLLS = 60
LOCAL = "local"


@dataclass
class _Shaper:
    """Concurrency and message-rate limits for one destination."""

    sem: asyncio.Semaphore
    interval: float
    next_start: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def pace(self, clock: Callable[[], float]) -> float:
        """Wait for this destination's next start slot and return it (``clock`` time): slots
        are at least ``interval`` apart, and the caller is never let through before its own."""
        if self.interval <= 0:
            return clock()
        async with self.lock:
            now = clock()
            slot = max(now, self.next_start)
            self.next_start = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
        return slot


class Scheduler:
    def __init__(
        self,
        ctx: ActionContext,
        settings: QueueSettings,
        *,
        hostname: str,
        local: DeliveryAgent,
        remote: DeliveryAgent,
        relays: Mapping[str, DeliveryAgent] | None = None,
        is_local: Callable[[str], Awaitable[bool]],
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        sign: Callable[[bytes], Awaitable[bytes]] | None = None,
    ) -> None:
        self.ctx = ctx
        #: DKIM signing of mail leaving for other hosts (``queue/signing.py``)
        self.sign = sign
        self.settings = settings
        self.hostname = hostname
        self.local = local
        self.remote = remote
        self.relays = dict(relays or {})
        self.is_local = is_local
        self.clock = clock
        self.rng = rng
        self._global = asyncio.Semaphore(settings.concurrency)
        self._shapers: dict[str, _Shaper] = {}
        self._inflight: set[int] = set()
        #: (message id, destination) of jobs running now; the bounce sweep waits for them.
        self._jobs_by_message: collections.Counter[tuple[int, str]] = collections.Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        #: a message may have finished since the last purge (at start: a crash may have left some)
        self._finished = True
        self._polls_since_purge = 0

    # -- lifecycle ------------------------------------------------------------------------------
    def wake(self) -> None:
        """Call after enqueueing: look for due work now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Run until :meth:`stop`; ``app.py`` starts this as a task."""
        while not self._stopping:
            try:
                await self.run_once()
                await self.sweep_bounces()
                await self.purge_finished()
            except MailError as e:
                log.warning("queue scan failed: %s", e)
            except Exception:  # the queue must keep running; this is a bug, log it loudly
                log.exception("queue scan crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
            self._wake.clear()

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def drain(self, *, max_rounds: int = 50) -> None:
        """Run scans until nothing is due, in flight or unreported (tests, one-shot tools)."""
        for _ in range(max_rounds):
            started = await self.run_once()
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            bounced = await self.sweep_bounces()
            if not started and not self._tasks and not bounced:
                break
        await qa.do_purge_finished(self.ctx)

    async def purge_finished(self) -> int:
        """One poll's purge: remove finished messages if this scheduler saw one finish since
        the last purge (a recipient delivered or failed, a bounce settled), or if
        :data:`PURGE_CHECK_POLLS` polls went by. Without the first condition every poll
        scanned the whole queue for finished messages, which a backlog of deferred mail makes
        slow. Returns the number of messages removed."""
        self._polls_since_purge += 1
        if not self._finished and self._polls_since_purge < PURGE_CHECK_POLLS:
            return 0
        self._finished = False
        self._polls_since_purge = 0
        done = await qa.do_purge_finished(self.ctx)
        if len(done) >= qs.PURGE_BATCH:
            self._finished = True  # more may be left: the next poll goes on
        return len(done)

    # -- scanning -------------------------------------------------------------------------------
    async def destination(self, r: qs.QueuedRecipient) -> str:
        if await self.is_local(r.domain):
            return LOCAL
        route = find_route(self.settings.routes, r.rcpt)
        if route is not None:
            return f"route:{route.name}"
        return r.domain

    async def run_once(self) -> int:
        """Claim due recipients and start their jobs; returns the number of jobs started."""
        free = self.settings.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        now = int(self.clock())
        if not await self.ctx.meta.read(qs.any_due(now)):  # an idle poll writes nothing
            return 0
        due = await self.ctx.meta.write(
            qs.claim_due(now, now + LEASE_SECONDS, free * self.settings.batch_size)
        )
        due = [r for r in due if r.id not in self._inflight]
        if not due:
            return 0
        messages = await self.ctx.meta.read(qs.get_messages(sorted({r.message_id for r in due})))
        groups: dict[tuple[int, str], list[qs.QueuedRecipient]] = {}
        for r in due:
            if r.message_id not in messages:
                continue
            key = (r.message_id, await self.destination(r))
            groups.setdefault(key, []).append(r)
        started = 0
        for (mid, dest), rcpts in groups.items():
            for i in range(0, len(rcpts), self.settings.batch_size):
                batch = tuple(rcpts[i : i + self.settings.batch_size])
                self._inflight.update(r.id for r in batch)
                self._jobs_by_message[(mid, dest)] += 1
                task = asyncio.create_task(self._run_job(messages[mid], dest, batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                started += 1
        return started

    def _shaper(self, dest: str) -> _Shaper:
        s = self._shapers.get(dest)
        if s is None:
            lim = self.settings.limit_for(dest)
            interval = 60.0 / lim.rate_per_minute if lim.rate_per_minute else 0.0
            s = self._shapers[dest] = _Shaper(asyncio.Semaphore(lim.concurrency), interval)
        return s

    def _agent(self, dest: str) -> DeliveryAgent:
        if dest == LOCAL:
            return self.local
        if dest.startswith("route:"):
            agent = self.relays.get(dest[len("route:") :])
            if agent is not None:
                return agent
        return self.remote

    async def _run_job(
        self, message: qs.QueuedMessage, dest: str, recipients: tuple[qs.QueuedRecipient, ...]
    ) -> None:
        ids = [r.id for r in recipients]
        recorded = False
        try:
            shaper = self._shaper(dest)
            async with shaper.sem:
                outcomes = await self._attempt(message, dest, recipients, shaper)
            await self._record(message, recipients, outcomes, dest)
            recorded = True
        finally:
            if not recorded:
                with contextlib.suppress(Exception):
                    await asyncio.shield(qa.do_release_lease(self.ctx, ids))
            self._inflight.difference_update(ids)
            self._jobs_by_message[(message.id, dest)] -= 1
            if self._jobs_by_message[(message.id, dest)] <= 0:
                del self._jobs_by_message[(message.id, dest)]

    async def _attempt(
        self, message: qs.QueuedMessage, dest: str, recipients: tuple[qs.QueuedRecipient, ...],
        shaper: _Shaper,
    ) -> list[Outcome]:
        """Read (and sign) the message, then wait for the destination's rate and a global
        slot, then hand it to the agent. The rate is paced *after* the read, so it holds
        for the deliveries themselves: a read that takes longer for one message than for
        the next must not bring their starts closer than the interval. The pacing comes
        before the global slot: waiting for QQ's rate must not hold up deliveries to other
        destinations."""
        data = await self._load(message)
        if data is None:
            return [Outcome(r.id, "deferred", None, "4.3.0", "message data missing")
                    for r in recipients]  # fmt: skip
        if dest != LOCAL and self.sign is not None:
            try:
                data = await self.sign(data)
            except Exception:  # a signing fault must not lose the mail: send it unsigned
                log.exception("queue %s: DKIM signing failed", message.id)
        await shaper.pace(self.clock)
        async with self._global:
            try:
                return await self._agent(dest).deliver(DeliveryJob(message, recipients, data))
            except Exception:  # an agent bug must not lose the attempt
                log.exception("delivery agent for %s crashed", dest)
                return [Outcome(r.id, "deferred", None, "4.3.0", "internal error")
                        for r in recipients]  # fmt: skip

    async def _load(self, message: qs.QueuedMessage) -> bytes | None:
        try:
            body = await self.ctx.blobs.get(message.tenant_id, message.blob_id)
        except (MailError, OSError) as e:
            log.error("queue %s: cannot read blob %s: %s", message.id, message.blob_id, e)
            return None
        return message.prepend + body

    # -- outcomes -------------------------------------------------------------------------------
    async def _record(
        self,
        message: qs.QueuedMessage,
        recipients: Sequence[qs.QueuedRecipient],
        outcomes: Sequence[Outcome],
        dest: str,
    ) -> None:
        now = int(self.clock())
        by_id = {o.recipient_id: o for o in outcomes}
        attempts: list[qs.Attempt] = []
        delayed: list[tuple[qs.QueuedRecipient, Outcome, int]] = []
        delivered: list[tuple[qs.QueuedRecipient, Outcome]] = []
        for r in recipients:
            o = by_id.get(r.id) or Outcome(r.id, "deferred", None, "4.3.0", "no outcome")
            state, nxt = o.state, now
            if state == "deferred":
                at = retry.next_attempt(r.attempts + 1, message.created_at, message.expires_at,
                                        now, self.settings.retry, rng=self.rng)  # fmt: skip
                if at is None:
                    state = "failed"
                    o = Outcome(r.id, "failed", o.code, "4.4.7",
                                f"delivery time expired; last error: {o.reply}", o.remote_host)  # fmt: skip
                else:
                    nxt = at
                    if not r.delay_notified and retry.delay_notice_due(
                        message.created_at, now, self.settings.retry
                    ):
                        delayed.append((r, o, message.expires_at))
            if state == "delivered":
                delivered.append((r, o))
            attempts.append(qs.Attempt(r.id, state, now, nxt, o.code, o.status, o.reply,
                                       o.remote_host or None))  # fmt: skip
        await qa.do_record_attempts(self.ctx, attempts)
        if any(a.state != "deferred" for a in attempts):
            self._finished = True
        # Failures are reported by the bounce sweep (one DSN per message, crash-safe).
        if delayed:
            await self._notify(message, "delayed", [(r, o) for r, o, _ in delayed],
                               retry_until=message.expires_at)  # fmt: skip
        if delivered and dest == LOCAL:
            await self._notify(message, "delivered", delivered)

    def _report(
        self,
        message: qs.QueuedMessage,
        data: bytes | None,
        kind: str,
        items: Sequence[tuple[qs.QueuedRecipient, Outcome]],
        retry_until: int | None = None,
    ) -> bytes:
        return dsnlib.build_dsn(
            kind=kind,
            reporting_mta=self.hostname,
            to=message.mail_from,
            original=data or message.prepend,
            arrival=message.created_at,
            recipients=[
                dsnlib.DsnRecipient(
                    final_recipient=r.rcpt,
                    action=kind,
                    status=o.status or ("5.0.0" if kind == "failed" else "4.0.0"),
                    original_recipient=r.orcpt,
                    remote_mta=o.remote_host or None,
                    diagnostic=o.reply or None,
                    last_attempt=int(self.clock()),
                    will_retry_until=retry_until,
                )  # fmt: skip
                for r, o in items
            ],
            envid=message.envid,
            ret_full=message.ret == "FULL",
            locale=self.settings.dsn_locale,
        )

    async def _notify(
        self,
        message: qs.QueuedMessage,
        kind: str,
        items: Sequence[tuple[qs.QueuedRecipient, Outcome]],
        *,
        retry_until: int | None = None,
    ) -> None:
        """Delay notices (settled atomically with ``delay_notified``) and success reports."""
        wanted = [(r, o) for r, o in items if dsnlib.wants_dsn(r.notify, kind, message.mail_from)]
        report = None
        if wanted:
            report = self._report(message, await self._load(message), kind, wanted, retry_until)
        try:
            if kind == "delayed":
                await qa.do_settle_notice(
                    self.ctx, recipient_ids=[r.id for r, _ in items], delay=True,
                    tenant_id=message.tenant_id, report=report, to=message.mail_from,
                    lifetime=self.settings.retry.bounce_lifetime,
                )  # fmt: skip
            elif report is not None:
                await qa.do_enqueue_message(
                    self.ctx, tenant_id=message.tenant_id, raw=report, mail_from="",
                    recipients=[qa.EnvelopeRecipient(message.mail_from)], source="dsn",
                    lifetime=self.settings.retry.bounce_lifetime,
                    smtputf8=not message.mail_from.isascii(),
                )  # fmt: skip
        except MailError as e:
            log.warning("queue %s: cannot queue %s notice: %s", message.id, kind, e)
            return
        if report is not None:
            self.wake()

    async def sweep_bounces(self) -> int:
        """Report every unreported failure: one DSN per message for all its failed recipients
        (RFC 3464 allows several recipients per report), queued in the same transaction that
        marks them, so a crash can neither lose nor duplicate a bounce. Messages with
        recipients still in flight here wait, so one attempt's failures share one bounce."""
        pending = await self.ctx.meta.read(qs.pending_bounces())
        by_msg: dict[int, list[qs.QueuedRecipient]] = {}
        for r in pending:
            by_msg.setdefault(r.message_id, []).append(r)
        busy = {mid for mid, _dest in self._jobs_by_message}
        messages = await self.ctx.meta.read(qs.get_messages([m for m in by_msg if m not in busy]))
        sent = 0
        for mid, message in messages.items():
            rcpts = by_msg[mid]
            items = [(r, Outcome(r.id, "failed", r.last_code, r.last_status, r.last_reply or "",
                                 r.remote_host or "")) for r in rcpts]  # fmt: skip
            wanted = [(r, o) for r, o in items if dsnlib.wants_dsn(r.notify, "failed",
                                                                   message.mail_from)]  # fmt: skip
            report = None
            if wanted:
                report = self._report(message, await self._load(message), "failed", wanted)
            try:
                await qa.do_settle_notice(
                    self.ctx, recipient_ids=[r.id for r in rcpts], delay=False,
                    tenant_id=message.tenant_id, report=report, to=message.mail_from,
                    lifetime=self.settings.retry.bounce_lifetime,
                )  # fmt: skip
            except MailError as e:  # Conflict: another node settled it; else retry next scan
                log.info("queue %s: bounce not queued now: %s", mid, e)
                continue
            self._finished = True
            sent += report is not None
        if sent:
            self.wake()
        return sent

    async def forward(self, job: DeliveryJob, addresses: Sequence[str]) -> None:
        """Re-queue a local delivery for external alias members (the local agent's hook)."""
        await qa.do_enqueue_message(
            self.ctx, tenant_id=job.message.tenant_id, raw=job.data,
            mail_from=job.message.mail_from,
            recipients=[qa.EnvelopeRecipient(a) for a in addresses], source="forward",
            smtputf8=job.message.smtputf8, body_8bit=job.message.body_8bit,
        )  # fmt: skip
        self.wake()
