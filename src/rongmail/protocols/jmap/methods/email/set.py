"""Email/set (RFC 8621 §4.6) through ``actions.messages``.

* create: a new message composed from the Email object (``mail/compose.py``) and appended
  with ``do_append_message``; only ``mailboxIds``, ``keywords`` and ``receivedAt`` are stored
  metadata, everything else lives in the built message.
* update: only ``keywords`` and ``mailboxIds`` (whole or patched ``keywords/$seen``,
  ``mailboxIds/M1``) are mutable. Membership changes use copy/move actions so IMAP sees the same
  UIDs and ``VANISHED`` events.
* destroy: ``do_destroy_messages`` (every membership; the blob is released).
"""

from __future__ import annotations

from typing import Any

from rongmail.actions import messages as act
from rongmail.core.flags import MAX_KEYWORD_LEN, jmap_keywords, split_flags
from rongmail.protocols.jmap.call import Args, Call
from rongmail.protocols.jmap.mail.compose import compose
from rongmail.protocols.jmap.mail.email_query import parse_utc
from rongmail.protocols.jmap.proto import ids
from rongmail.protocols.jmap.proto.errors import SetError
from rongmail.protocols.jmap.standard import SET_ARGS, run_set

_CREATE_PROPS = frozenset({"mailboxIds", "keywords", "receivedAt", "messageId", "inReplyTo",
                           "references", "sender", "from", "to", "cc", "bcc", "replyTo",
                           "subject", "sentAt", "bodyStructure", "bodyValues", "textBody",
                           "htmlBody", "attachments"})


def keyword_set(value: Any, prop: str = "keywords") -> set[str]:
    if not isinstance(value, dict) or not all(v is True for v in value.values()):
        raise SetError("invalidProperties", "keywords map to true", properties=[prop])
    for k in value:
        if (not k or len(k) > MAX_KEYWORD_LEN
                or any(c in k for c in '()[]{}%*"\\ ') or not k.isascii()):
            raise SetError("invalidProperties", f"bad keyword {k}", properties=[prop])
    return {k.lower() for k in value}


async def email_set(call: Call, data: dict[str, Any]) -> dict[str, Any]:
    args = Args(data, SET_ARGS)
    ctx = call.deps.ctx
    reader = call.deps.reader
    mailboxes = {m.id for m in await reader.mailboxes(call.account_id)}
    domain = call.account.address.rpartition("@")[2] or call.deps.hostname

    def mailbox_set(value: Any) -> set[int]:
        if not isinstance(value, dict) or not all(v is True for v in value.values()):
            raise SetError("invalidProperties", "mailboxIds", properties=["mailboxIds"])
        out = {call.require(ids.MAILBOX, k, "mailboxIds") for k in value}
        if not out or not out <= mailboxes | _created_mailboxes():
            raise SetError("invalidProperties", "mailboxIds", properties=["mailboxIds"])
        return out

    def _created_mailboxes() -> set[int]:
        return {m for v in call.created_ids.values() if (m := ids.decode(ids.MAILBOX, v))}

    async def create(cid: str, obj: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in obj if k not in _CREATE_PROPS and not k.startswith("header:")]
        if bad:
            raise SetError("invalidProperties", "unknown property", properties=bad)
        mbs = mailbox_set(obj.get("mailboxIds"))
        kws = keyword_set(obj.get("keywords") or {})
        flags, others = split_flags(kws)
        received = parse_utc(obj["receivedAt"], "receivedAt") if obj.get("receivedAt") else None
        raw = await compose(call, obj, domain)
        r = await act.do_append_message(ctx, call.account_id, sorted(mbs), raw, flags=flags,
                                        keywords=others, received_at=received)
        return {"id": ids.encode(ids.EMAIL, r.message_id), "blobId": ids.blob_id(r.blob_id),
                "threadId": ids.encode(ids.THREAD, r.thread_id), "size": r.size}

    async def update(mid: int, patch: dict[str, Any]) -> dict[str, Any] | None:
        found = await reader.messages(call.account_id, [mid])
        if not found:
            raise SetError("notFound")
        m = found[0]
        kws = set(jmap_keywords(m.flags, m.keywords))
        mbs = set(m.mailbox_ids)
        new_kws, new_mbs = set(kws), set(mbs)
        for path, value in patch.items():
            if path == "keywords":
                new_kws = keyword_set(value)
            elif path.startswith("keywords/"):
                kw = path[9:].lower()
                keyword_set({kw: True})
                if value is True:
                    new_kws.add(kw)
                elif value is None:
                    new_kws.discard(kw)
                else:
                    raise SetError("invalidPatch", path)
            elif path == "mailboxIds":
                new_mbs = mailbox_set(value)
            elif path.startswith("mailboxIds/"):
                mb = call.require(ids.MAILBOX, path[11:], "mailboxIds")
                if value is True:
                    if mb not in mailboxes | _created_mailboxes():
                        raise SetError("invalidProperties", path, properties=["mailboxIds"])
                    new_mbs.add(mb)
                elif value is None:
                    new_mbs.discard(mb)
                else:
                    raise SetError("invalidPatch", path)
            else:
                raise SetError("invalidProperties", "immutable", properties=[path])
        if not new_mbs:
            raise SetError("invalidProperties", "an email must be in a mailbox",
                           properties=["mailboxIds"])
        if new_kws != kws:
            await act.do_set_flags(ctx, call.account_id, [mid], replace=split_flags(new_kws))
        add, remove = sorted(new_mbs - mbs), sorted(mbs - new_mbs)
        for target in add:
            if remove:
                await act.do_move_messages(ctx, call.account_id, [mid], remove.pop(), target)
            else:
                await act.do_copy_messages(ctx, call.account_id, [mid], target)
        keep = sorted(new_mbs)[0]
        for source in remove:
            await act.do_move_messages(ctx, call.account_id, [mid], source, keep)
        return None

    async def destroy(mid: int) -> None:
        _, missing = await act.do_destroy_messages(ctx, call.account_id, [mid])
        if missing:
            raise SetError("notFound")

    return await run_set(call, args, ids.EMAIL, create=create, update=update, destroy=destroy)
