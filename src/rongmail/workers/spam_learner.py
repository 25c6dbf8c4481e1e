"""Learn from users' Junk decisions, whatever client made them (issue 9).

IMAP, JMAP and the webmail all move messages and set keywords through ``actions.messages``,
so one subscriber of the change bus (``bus.subscribe(None)``: every account) sees every user
decision. From one committed batch of one account:

* **into Junk → spam**: a ``MailboxMessage created`` in the account's junk-role mailbox
  *without* an ``Email created`` for the same message in the batch (a delivery has both: our
  own filter's Junk deliveries are not user feedback);
* **out of Junk → ham**: a ``MailboxMessage created`` (again without ``Email created``) in a
  mailbox whose role is not junk, trash, sent or drafts, for a message that was in Junk (a
  ``MailboxMessage destroyed`` from the junk mailbox in the batch, or still a member of it:
  IMAP COPY then EXPUNGE);
* **keywords**: an ``Email updated`` with no membership created/destroyed in the batch whose
  message now carries ``$Junk`` (spam) or ``$NotJunk`` (ham), not both. Where the change
  says which flags changed (``Change.flags_changed``, set by this process's flag writes) and
  neither of those two is among them, the message is not read.

The write (training plus the ``spam_learned`` record that makes repeats idempotent) is
:func:`rongmail.actions.spam.do_learn_messages`; models are saved by
:meth:`~rongmail.actions.spam.SpamModels.run_saver`. A bus overflow (``None``) loses only
feedback, never mail, and is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence

from rongmail.actions.context import ActionContext
from rongmail.actions.messages import tenant_of
from rongmail.actions.spam import SpamModels, do_learn_messages
from rongmail.core import changes as ch
from rongmail.core.changes import Change
from rongmail.core.flags import JUNK, NOTJUNK
from rongmail.store.reader import Reader

log = logging.getLogger(__name__)

_NOT_HAM_ROLES = frozenset({"junk", "trash", "sent", "drafts"})
_JUNK_BITS = JUNK | NOTJUNK


class RoleCache:
    """mailbox id → role (roles are set at creation; a bounded cache is enough)."""

    def __init__(self, reader: Reader, *, size: int = 100_000) -> None:
        self._reader = reader
        self._size = size
        self._roles: dict[int, str | None] = {}

    async def role(self, mailbox_id: int) -> str | None:
        if mailbox_id not in self._roles:
            mb = await self._reader.mailbox(mailbox_id)
            if len(self._roles) >= self._size:
                self._roles.clear()
            self._roles[mailbox_id] = mb.role if mb is not None else None
        return self._roles[mailbox_id]


async def decisions(batch: Sequence[Change], reader: Reader, roles: RoleCache
                    ) -> dict[int, dict[int, str]]:
    """account id → {message id: "spam" | "ham"} for the user decisions in ``batch``."""
    created_email: set[tuple[int, int]] = set()
    added: dict[tuple[int, int], list[int]] = defaultdict(list)
    removed: dict[tuple[int, int], list[int]] = defaultdict(list)
    updated: set[tuple[int, int]] = set()
    for c in batch:
        key = (c.account_id, c.object_id)
        if c.type == ch.EMAIL and c.action == "created":
            created_email.add(key)
        elif c.type == ch.EMAIL and c.action == "updated":
            # a flag change that left $Junk and $NotJunk alone (every \Seen a client sets)
            # says nothing: no need to read the message's flags
            if c.flags_changed is None or c.flags_changed & _JUNK_BITS:
                updated.add(key)
        elif c.type == ch.MAILBOX_MESSAGE and c.mailbox_id is not None:
            if c.action == "created":
                added[key].append(c.mailbox_id)
            elif c.action == "destroyed":
                removed[key].append(c.mailbox_id)
    out: dict[int, dict[int, str]] = defaultdict(dict)
    maybe_ham: dict[int, list[int]] = defaultdict(list)
    for key, mailbox_ids in added.items():
        if key in created_email:
            continue
        account_id, message_id = key
        target_roles = [await roles.role(m) for m in mailbox_ids]
        if "junk" in target_roles:
            out[account_id][message_id] = "spam"
            continue
        if not any(r not in _NOT_HAM_ROLES for r in target_roles):
            continue
        from_junk = [await roles.role(m) for m in removed.get(key, ())]
        if "junk" in from_junk:
            out[account_id][message_id] = "ham"
        else:
            maybe_ham[account_id].append(message_id)  # still in Junk? (COPY, then EXPUNGE)
    flag_only: dict[int, list[int]] = defaultdict(list)
    for key in updated:
        if key in added or key in removed or key in created_email:
            continue
        flag_only[key[0]].append(key[1])
    for account_id, ids in maybe_ham.items():
        for m in await reader.messages(account_id, ids):
            if "junk" in [await roles.role(x) for x in m.mailbox_ids]:
                out[account_id][m.id] = "ham"
    # flag changes (every \Seen a client sets lands here): the flags alone say it
    for account_id, ids in flag_only.items():
        for message_id, flags in (await reader.message_flags(account_id, ids)).items():
            junk, notjunk = bool(flags & JUNK), bool(flags & NOTJUNK)
            if junk != notjunk:
                out[account_id][message_id] = "spam" if junk else "ham"
    return {a: v for a, v in out.items() if v}


async def learn_batch(ctx: ActionContext, reader: Reader, models: SpamModels, roles: RoleCache,
                      batch: Sequence[Change]) -> int:
    """Learn every user decision in one bus batch; returns how many messages were learned."""
    n = 0
    for account_id, labels in (await decisions(batch, reader, roles)).items():
        try:
            tenant = await tenant_of(ctx, account_id)
        except Exception:  # noqa: BLE001 - the account was deleted meanwhile
            continue
        items = []
        for m in await reader.messages(account_id, list(labels)):
            try:
                raw = await reader.message_bytes(tenant, m.blob_id)
            except Exception:  # noqa: BLE001 - destroyed meanwhile
                continue
            items.append((m.id, labels[m.id], raw))
        n += await do_learn_messages(ctx, models, account_id, tenant, items)
    return n


async def run_spam_learner(ctx: ActionContext, reader: Reader, models: SpamModels, *,
                           started: asyncio.Event | None = None) -> None:
    """Subscribe to every account's changes and learn until cancelled (app.py starts it as a
    background task next to ``models.run_saver()``)."""
    roles = RoleCache(reader)
    async with ctx.bus.subscription(None) as sub:
        if started is not None:
            started.set()
        while True:
            batch = await sub.get()
            if batch is None:
                log.warning("spam learner fell behind the change bus; some feedback was lost")
                continue
            try:
                n = await learn_batch(ctx, reader, models, roles, batch)
                if n:
                    log.info("spam learner: learned %d messages", n)
            except Exception:  # noqa: BLE001 - keep learning from the next batch
                log.exception("spam learner failed on a batch")
