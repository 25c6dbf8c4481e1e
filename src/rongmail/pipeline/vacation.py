"""The vacation auto-responder (RFC 8621 §8 VacationResponse, RFC 3834): a delivery wrapper.

``app.py`` wraps the delivery: ``VacationDelivery(QuarantineDelivery(...), ctx, reader)``. After
the inner delivery has stored (or queued for the local agent) a message for the Inbox
(verdict ``ACCEPT``; Junk and quarantine never get a reply), each local recipient account whose
VacationResponse is enabled and whose window ``[fromDate, toDate)`` contains now is considered:
:func:`refusal` applies RFC 3834's rules and, when none refuses,
:func:`rongmail.actions.vacation.do_send_vacation_reply` queues at most one reply per sender
per period.

Invariant: the responder never delays or fails the delivery. It runs as a background task
after the inner delivery returned (the SMTP ``250`` does not wait for it), and any error is
logged and dropped. The wrapper holds no per-message state beyond its in-flight tasks.

Nearly no account has an auto-reply on, so the wrapper keeps each account's VacationResponse
row in a bounded per-process cache (:class:`VacationCache`) instead of reading it once per
delivered message. Freshness bound: a change made through
:func:`rongmail.actions.jmap.do_set_vacation` drops the account's entry as soon as it reaches
this process's change bus (at once in the same process; within one follower poll from another
process when changes are followed), and no entry is ever used more than
:data:`VACATION_CACHE_TTL` seconds after it was read, so a vacation switched on (or off)
takes effect within that many seconds in every case. The window (``fromDate``/``toDate``) is
evaluated against the current time on every message, cached or not.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from email.header import decode_header, make_header
from email.utils import getaddresses
from functools import cache

from rongmail.actions.context import ActionContext
from rongmail.actions.vacation import DEFAULT_PERIOD, do_send_vacation_reply
from rongmail.core.changes import Change
from rongmail.core.expiring import ExpiringLru
from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.ports import Delivery
from rongmail.pipeline.stage import Action, Verdict
from rongmail.pipeline.stages.submission import header_fields
from rongmail.store.reader import Reader, VacationRow

log = logging.getLogger(__name__)

#: Longest time (seconds) a cached VacationResponse row is used after it was read.
VACATION_CACHE_TTL = 5.0
#: Accounts whose row a :class:`VacationCache` keeps at most (least recently read go first).
VACATION_CACHE_SIZE = 10_000
#: The change type :func:`rongmail.store.sql.jmap.set_vacation` logs (RFC 8621 §8).
_VACATION_CHANGE = "VacationResponse"

#: Local parts that are machines or role mailboxes (RFC 3834 §2, RFC 2142): never answered.
_ROBOT_RE = re.compile(
    r"^(mailer-daemon|postmaster|listserv|majordomo|mailman|bounces?|bounce[-+.].*|owner-.*"
    r"|.*-(request|owner|bounces?)|no[-_.]?reply.*|do[-_.]?not[-_.]?reply.*|donotreply.*)$"
)
_PRECEDENCE = {"bulk", "list", "junk"}
_LIST_HEADERS = {"list-id", "list-unsubscribe"}


def active(v: VacationRow, now: int) -> bool:
    """RFC 8621 §8: enabled, and now within ``[fromDate, toDate)`` (a null bound is open)."""
    return (
        v.is_enabled
        and (v.from_date is None or v.from_date <= now)
        and (v.to_date is None or now < v.to_date)
    )


def refusal(
    mail_from: str | None,
    headers: Sequence[tuple[str, str]],
    own_addresses: Iterable[str],
) -> str | None:
    """Why RFC 3834 forbids answering this message, or None when a reply may be sent. Pure.

    ``headers`` are (lower-cased name, decoded value) pairs of the original message;
    ``own_addresses`` the recipient's addresses that count as "addressed to me".
    """
    sender = (mail_from or "").strip().lower()
    if not sender or "@" not in sender:
        return "null_sender"  # RFC 3834 §2: never answer <> (bounces, other auto-replies)
    own = {a.lower() for a in own_addresses}
    if sender in own:
        return "self"
    if _ROBOT_RE.match(sender.rpartition("@")[0]):
        return "robot_sender"  # §2: mailer-daemon, postmaster, noreply, list machinery
    to_cc: list[str] = []
    for name, value in headers:
        if name == "auto-submitted" and value.split(";")[0].strip().lower() != "no":
            return "auto_submitted"  # §2, §5
        if name == "precedence" and value.strip().lower() in _PRECEDENCE:
            return "precedence"  # §2 (RFC 2076 "bulk"/"list"/"junk")
        if name in _LIST_HEADERS:
            return "mailing_list"  # §2: RFC 2369/2919 list traffic
        if name in ("to", "cc"):
            to_cc.append(value)
    if not any(addr.lower() in own for _, addr in getaddresses(to_cc)):
        return "not_addressed"  # §2: only when the recipient is in To/Cc (not Bcc or a list)
    return None


def _decode(value: bytes) -> str:
    text = value.decode("utf-8", "replace")
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError):
        return text


class VacationCache:
    """Each account's VacationResponse row, read through ``reader`` and kept for at most
    ``ttl`` seconds of ``clock``; :meth:`on_changes` (a change-bus listener) drops an
    account's entry when its VacationResponse changed. At most ``size`` entries (the least
    recently read is evicted first). Event-loop thread only."""

    def __init__(
        self,
        reader: Reader,
        *,
        ttl: float = VACATION_CACHE_TTL,
        size: int = VACATION_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._ttl = ttl
        self._clock = clock
        self._rows: ExpiringLru[int, VacationRow] = ExpiringLru(size, clock=clock)

    def cached(self, account_id: int) -> VacationRow | None:
        """The account's row if it is cached and fresh (what :meth:`get` would return without
        a read), else ``None``."""
        return self._rows.get(account_id)

    async def get(self, account_id: int) -> VacationRow:
        hit = self._rows.get(account_id)
        if hit is not None:
            return hit
        read_at = self._clock()  # before the read: a change committed during it expires it
        row = await self._reader.vacation(account_id)
        self._rows.put_until(account_id, row, read_at + self._ttl)
        return row

    def on_changes(self, changes: list[Change]) -> None:
        for c in changes:
            if c.type == _VACATION_CHANGE:
                self._rows.pop(c.account_id)


class VacationDelivery:
    def __init__(
        self,
        inner: Delivery,
        ctx: ActionContext,
        reader: Reader,
        *,
        period: int = DEFAULT_PERIOD,
        cache_ttl: float = VACATION_CACHE_TTL,
    ) -> None:
        self._inner = inner
        self._ctx = ctx
        self._reader = reader
        self._period = period
        self._vacations = VacationCache(reader, ttl=cache_ttl)
        ctx.bus.add_listener(self._vacations.on_changes)
        self._pending: set[asyncio.Future[None]] = set()  # replies in flight

    async def deliver(self, env: Envelope, verdict: Verdict) -> str:
        result = await self._inner.deliver(env, verdict)
        if (
            verdict.action is Action.ACCEPT
            and not result.startswith("H")
            and env.mail_from
            and not self._surely_nobody_away(env)
        ):
            task = asyncio.ensure_future(self._respond(env))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return result

    def _surely_nobody_away(self, env: Envelope) -> bool:
        """Every local recipient account has a cached VacationResponse that is not active now:
        :meth:`_respond` would read nothing and send nothing, so no task is started for it
        (nearly every delivery; a task costs more CPU than these dictionary lookups)."""
        now = int(time.time())
        for rcpt in env.rcpts:
            if not rcpt.is_local:
                continue
            for account_id in rcpt.resolution.account_ids:
                v = self._vacations.cached(account_id)
                if v is None or active(v, now):
                    return False
        return True

    async def _respond(self, env: Envelope) -> None:
        try:
            message = env.message or b""

            @cache
            def headers() -> list[tuple[str, str]]:
                """The message's decoded header fields, decoded only once a recipient has an
                active auto-reply (for nearly every message, nobody has)."""
                return [(n.decode("latin-1"), _decode(v)) for n, v in header_fields(message)]

            now = int(time.time())
            done: set[int] = set()
            for rcpt in env.rcpts:
                if not rcpt.is_local:
                    continue
                single = len(rcpt.resolution.account_ids) == 1
                for account_id in rcpt.resolution.account_ids:
                    if account_id in done:
                        continue
                    done.add(account_id)
                    await self._one(env, headers, account_id, rcpt.address if single else "", now)
        except Exception:  # noqa: BLE001 - the message is delivered; a reply must not fail it
            log.exception("vacation reply for session %s failed", env.session_id)

    async def _one(
        self,
        env: Envelope,
        header_list: Callable[[], list[tuple[str, str]]],
        account_id: int,
        rcpt: str,
        now: int,
    ) -> None:
        v = await self._vacations.get(account_id)
        if not active(v, now):
            return
        account = await self._reader.account(account_id)
        if account is None:
            return
        headers = header_list()
        why = refusal(env.mail_from, headers, {account.address, rcpt} - {""})
        if why is not None:
            log.info(
                "vacation: no reply from account %d to %s (%s)", account_id, env.mail_from, why
            )
            return
        got = {name: value for name, value in reversed(headers)}  # the first occurrence wins
        queue_id = await do_send_vacation_reply(
            self._ctx,
            account_id=account_id,
            vacation=v,
            sender=env.mail_from or "",
            original_subject=got.get("subject", ""),
            original_message_id=got.get("message-id", ""),
            original_references=got.get("references", ""),
            period=self._period,
            now=now,
        )
        log.info(
            "vacation: account %d to %s -> %s",
            account_id,
            env.mail_from,
            f"queue {queue_id}" if queue_id else "already replied",
        )
