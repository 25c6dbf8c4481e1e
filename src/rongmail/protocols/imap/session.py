"""One IMAP connection's state machine (RFC 9051 §3), independent of sockets.

Role: receives parser events from :mod:`.server`, checks the state, dispatches each command
type through :data:`.commands.DISPATCH`, renders errors once, and keeps the selected mailbox's
:class:`~.view.SelectedView` in step with the change bus (EXISTS, EXPUNGE, VANISHED, FETCH
FLAGS). Output goes to ``self.out``; the shell writes it and performs TLS/COMPRESS switches that
handlers request through ``self.upgrade``.

Invariants:

* Every command gets exactly one tagged reply (or ``* BYE``): from the handler's :class:`Ok`,
  from a rendered error, or from the end of IDLE/AUTHENTICATE.
* Untagged EXPUNGE/VANISHED are never sent while a sequence-number FETCH, STORE or SEARCH is
  being answered (RFC 9051 §7.5.1); they stay pending in the view.
* Reply text is English unless the client enabled UTF-8 (``resp-text`` is 7-bit in RFC 3501);
  then it is the configured locale.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rongmail.bus import Subscription
from rongmail.errors import MailError
from rongmail.i18n import t
from rongmail.services.auth.authenticate import AuthResult

from . import commands
from .base import PENDING, ImapDeps, Ok, SessionRegistry, State
from .names import OWNER_RIGHTS, MailboxTree
from .proto import commands as c
from .proto import response as r
from .proto.events import ContinuationRequest, Event, IdleDone, Rejected, SaslResponse
from .proto.parser import CommandParser
from .proto.sequence import SequenceSet
from .replies import error_reply
from .view import SelectedView

if TYPE_CHECKING:
    from rongmail.core.models import Mailbox

    from .commands.auth import SaslState

log = logging.getLogger("rongmail.imap")

__all__ = ["Session"]

#: Commands during which EXPUNGE must not be sent (RFC 9051 §7.5.1), unless UID variants.
_NO_EXPUNGE = (c.Fetch, c.Store, c.Search)


class Session:
    def __init__(
        self,
        deps: ImapDeps,
        *,
        remote_ip: str,
        tls_active: bool,
        flush: Callable[[], Awaitable[None]] | None = None,
        registry: SessionRegistry | None = None,
    ) -> None:
        self.deps = deps
        self.options = deps.options
        self.remote_ip = remote_ip
        self.tls_active = tls_active
        self.id = secrets.token_hex(4)
        self.parser = CommandParser(self.options.limits)
        self.state = State.NOT_AUTHENTICATED
        self.out: list[bytes] = []
        self.identity: AuthResult | None = None
        self.enabled: set[str] = set()
        self.view: SelectedView | None = None
        self.subscription: Subscription | None = None
        self.saved_search: list[int] = []  # UIDs, RFC 5182 ``$``
        self.upgrade: str | None = None  # "starttls" / "compress": done by the shell
        self.compressed = False
        self.idle_tag: str | None = None
        self.sasl: SaslState | None = None  # the running AUTHENTICATE exchange
        self.auth_failures = 0
        self.bad_commands = 0
        self.condstore = False  # CONDSTORE is active for this session (RFC 7162 §3.1)
        self.client_id: dict[str, str | None] = {}
        self._flush = flush
        self.registry = registry
        self.zone = _zone(self.options.timezone)

    # -- output ----------------------------------------------------------------------------
    @property
    def utf8(self) -> bool:
        enabled = self.enabled
        return "UTF8=ACCEPT" in enabled or "IMAP4REV2" in enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    def text(self, key: str, **params: Any) -> str:
        return t(key, self.options.locale if self.utf8 else "en", **params)

    def send(self, data: bytes) -> None:
        self.out.append(data)

    def untagged(self, *parts: object) -> None:
        self.out.append(r.untagged(*parts, utf8=self.utf8))

    def untagged_status(self, status: str, key: str, *, code: str | None = None, **kw: Any) -> None:
        self.out.append(b"* " + self._status_text(status, key, code, kw))

    def tagged(
        self, tag: str, status: str, key: str, *, code: str | None = None, **kw: Any
    ) -> None:
        self.out.append(tag.encode("ascii") + b" " + self._status_text(status, key, code, kw))

    def _status_text(
        self, status: str, key: str, code: str | None, params: dict[str, Any]
    ) -> bytes:
        """``status SP [code SP] text CRLF`` of a status response in this session's language
        (the bytes ``response.tagged``/``untagged_status`` put after the tag or ``*``)."""
        utf8 = self.utf8
        locale = self.options.locale if utf8 else "en"
        # only short server-side values are cached: a client-chosen mailbox name or a long
        # MODIFIED set must not pin kilobytes per entry in a process-wide cache
        if (code is None or len(code) <= _CACHED_VALUE_MAX) and all(
            type(v) is int or (type(v) is str and len(v) <= _CACHED_VALUE_MAX)
            for v in params.values()
        ):
            return _status_line(status, key, code, locale, utf8, tuple(params.items()))
        text = t(key, locale, **params)
        return r.untagged_status(status, text, code=code, utf8=utf8)[2:]

    def take_output(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data

    async def flush(self) -> None:
        """Let the shell write what is buffered (large FETCH responses)."""
        if self._flush is not None:
            await self._flush()

    def greeting(self) -> bytes:
        caps = " ".join(commands.capabilities(self))
        return r.untagged_status(
            "OK",
            t("imap.greeting", "en", hostname=self.options.hostname),
            code=f"CAPABILITY {caps}",
        )

    @property
    def closing(self) -> bool:
        return self.state is State.LOGOUT

    # -- events ----------------------------------------------------------------------------
    async def handle(self, event: Event) -> None:
        if isinstance(event, ContinuationRequest):
            self.send(r.continuation(self.text("imap.continue")))
        elif isinstance(event, Rejected):
            self._rejected(event)
        elif isinstance(event, IdleDone):
            await self._idle_done(event)
        elif isinstance(event, SaslResponse):
            await commands.auth.sasl_step(self, event)
        else:
            await self._command(event)

    def _rejected(self, event: Rejected) -> None:
        self.bad_commands += 1
        text = self.text(event.key, detail=event.detail)
        self.send(r.tagged(event.tag or "*", event.status, text, code=event.code, utf8=self.utf8))
        if self.bad_commands >= self.options.max_bad_commands:
            self.bye("imap.bye.too_many_errors")

    async def _command(self, cmd: c.Command) -> None:
        entry = commands.DISPATCH.get(type(cmd))
        if entry is None or self.state not in entry.states:
            self.bad_commands += 1
            self.tagged(cmd.tag, "BAD", "imap.bad.state")
            return
        try:
            result = await entry.handler(self, cmd)
        except MailError as err:
            status, code = error_reply(err)
            if status == "BAD":
                self.bad_commands += 1
            await self.send_updates(expunges=not isinstance(cmd, _NO_EXPUNGE) or _is_uid(cmd))
            self.send(
                r.tagged(
                    cmd.tag, status, self.text(err.key, **err.params), code=code, utf8=self.utf8
                )
            )
            return
        except Exception:
            log.exception("imap session=%s command %s failed", self.id, entry.verb)
            self.tagged(cmd.tag, "NO", "error.internal", code="SERVERBUG")
            return
        if result is PENDING:
            return
        assert isinstance(result, Ok)
        if self.state is not State.LOGOUT:
            await self.send_updates(expunges=not isinstance(cmd, _NO_EXPUNGE) or _is_uid(cmd))
        self.tagged(cmd.tag, "OK", result.key, code=result.code, verb=entry.verb)

    async def _idle_done(self, event: IdleDone) -> None:
        tag, self.idle_tag = self.idle_tag, None
        if tag is None:
            self.tagged("*", "BAD", "imap.bad.state")
            return
        await self.send_updates(expunges=True)
        if event.valid:
            self.tagged(tag, "OK", "imap.ok.done", verb="IDLE")
        else:
            self.tagged(tag, "BAD", "imap.bad.idle_done")

    def bye(self, key: str, **kw: Any) -> None:
        self.untagged_status("BYE", key, **kw)
        self.state = State.LOGOUT

    # -- selection and live updates --------------------------------------------------------
    @property
    def account_id(self) -> int:
        assert self.identity is not None
        return self.identity.account.id

    @property
    def tenant_id(self) -> int:
        assert self.identity is not None
        return self.identity.account.tenant_id

    async def tree(self) -> MailboxTree:
        """The account's mailboxes and those other accounts share with it (RFC 4314)."""
        return MailboxTree(*await self.deps.reader.mailbox_tree(self.account_id))

    async def selectable(self, name: str) -> tuple[Mailbox, str] | None:
        """``(mailbox, rights)`` of the mailbox ``name`` names, or None (SELECT, EXAMINE).

        ``INBOX`` (any case, RFC 9051 §5.1) is always the account's own top-level mailbox of
        role ``inbox`` (:mod:`.names`; the role is unique per account, and ``Other Users``
        paths never resolve to it), so it is one point read instead of the whole tree: a
        client's re-SELECT of its INBOX spent a third of its CPU reading and building the
        tree (``bench/README.md``, session 11). Anything else resolves through the tree."""
        if name.upper() == "INBOX":
            mb = await self.deps.reader.mailbox_by_role(self.account_id, "inbox")
            if mb is not None and mb.parent_id == 0:
                return mb, OWNER_RIGHTS
        node = (await self.tree()).get(name)
        return None if node is None else (node.mailbox, node.rights)

    def follow(self, account_id: int) -> None:
        """Listen to the change bus of the account owning the selected mailbox (another
        account's, for a shared mailbox); the bus only feeds the selected view."""
        sub = self.subscription
        if sub is not None and sub.account_id == account_id:
            return
        if sub is not None:
            sub.close()
        self.subscription = self.deps.ctx.bus.subscribe(account_id)

    def authenticated(self, identity: AuthResult) -> None:
        self.identity = identity
        self.state = State.AUTHENTICATED
        self.subscription = self.deps.ctx.bus.subscribe(identity.account.id)

    def deselect(self) -> None:
        self.view = None
        self.saved_search = []
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    async def drain_bus(self) -> None:
        """Move every queued bus batch into the view without waiting for new ones."""
        sub = self.subscription
        if sub is None:
            return
        while not sub.queue.empty():
            batch = await sub.get()  # does not block: the queue is not empty
            if self.view is not None:
                self.view.note(batch)

    async def send_updates(self, *, expunges: bool) -> None:
        """Tell the client what changed in the selected mailbox (RFC 9051 §7.4.1, §7.5)."""
        await self.drain_bus()
        view = self.view
        if view is None or not view.dirty:
            return
        reader = self.deps.reader
        touched = view.take_touched()
        if view.resync:
            entries = await reader.mailbox_entries(view.mailbox.id)
            view.pending_expunges.update(view.vanished_in(entries))
            view.resync = False
        elif touched.rescan:  # one scan reaching back to the oldest noted change
            since = view.synced_modseq
            if touched.floor is not None:
                since = min(since, touched.floor - 1)
            entries = await reader.mailbox_entries(view.mailbox.id, changed_since=since)
        else:  # O(changes): only what the noted batches touched
            entries = await self.deps.listings.fresh(reader, view.mailbox, touched)
        if expunges and view.pending_expunges:
            gone = sorted(view.pending_expunges)
            if self.qresync:
                view.expunge(gone)
                self.untagged(r.Atom("VANISHED"), r.Atom(str(SequenceSet.of(gone))))
            else:
                for number in view.expunge(gone):
                    self.untagged(number, r.Atom("EXPUNGE"))
        new, changed = view.apply_entries(entries)
        if new:
            self.untagged(view.exists, r.Atom("EXISTS"))
        for uid in changed:
            msn = view.msn(uid)
            if msn is not None:
                self.send(commands.fetch.flags_response(self, msn, uid))
        view.dirty = bool(view.pending_expunges)

    async def wait_bus(self) -> list[Any] | None:
        """Wait for the next bus batch (IDLE); note it in the view."""
        assert self.subscription is not None
        batch = await self.subscription.get()
        if self.view is not None:
            self.view.note(batch)
        return batch

    def close(self) -> None:
        """End the session: leave the registry and the bus, and let go of the shell's flush
        callback (a closure over this session: without this the pair is a reference cycle,
        freed only by a full collection, which ``core.heap`` makes rare, so ended sessions
        and their 10,000-entry views piled up, ~28 MB per process after the mixed load) and
        of the selected mailbox's view."""
        if self.registry is not None and self.identity is not None:
            self.registry.remove_user(self.identity.account.id, self)
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
        self._flush = None
        self.view = None


#: Longest code or parameter value a cached status line may hold (see ``_status_text``).
_CACHED_VALUE_MAX = 64


@lru_cache(maxsize=2048)
def _status_line(
    status: str,
    key: str,
    code: str | None,
    locale: str,
    utf8: bool,
    params: tuple[tuple[str, Any], ...],
) -> bytes:
    """The rendered ``status SP [code SP] text CRLF`` (see :meth:`Session._status_text`).

    Cached because nearly every command ends with one of a few such lines (``OK [READ-WRITE]
    SELECT completed``, ``OK FETCH completed``...) and the catalogue lookup, formatting and
    rendering cost as much as a short command's own work. Sound because the result is a pure
    function of the arguments: ``i18n.t`` reads catalogues loaded once per process, and
    ``response.untagged_status`` is pure. Bounded: at most 2,048 lines of short values (codes
    such as ``UIDNEXT n`` vary slowly), least recently used dropped first.
    """
    text = t(key, locale, **dict(params))
    return r.untagged_status(status, text, code=code, utf8=utf8)[2:]


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _is_uid(cmd: c.Command) -> bool:
    return bool(getattr(cmd, "uid", False))
