"""Rendering Mailbox objects (RFC 8621 §2) from the store's mailboxes and counts."""

from __future__ import annotations

from typing import Any

from rongmail.core.models import Mailbox, MailboxCounts
from rongmail.protocols.jmap.proto import ids

PROPERTIES = ("id", "name", "parentId", "role", "sortOrder", "totalEmails", "unreadEmails",
              "totalThreads", "unreadThreads", "myRights", "isSubscribed")

#: RFC 8621 §2: the owner holds every right on their own mailboxes.
ALL_RIGHTS = {"mayReadItems": True, "mayAddItems": True, "mayRemoveItems": True,
              "maySetSeen": True, "maySetKeywords": True, "mayCreateChild": True,
              "mayRename": True, "mayDelete": True, "maySubmit": True}


def mailbox_json(mb: Mailbox, counts: MailboxCounts | None) -> dict[str, Any]:
    c = counts or MailboxCounts(mb.id, 0, 0, 0)
    rights = dict(ALL_RIGHTS)
    if mb.role == "inbox":
        rights.update(mayRename=False, mayDelete=False)
    return {
        "id": ids.encode(ids.MAILBOX, mb.id),
        "name": mb.name,
        "parentId": ids.encode(ids.MAILBOX, mb.parent_id) if mb.parent_id else None,
        "role": mb.role,
        "sortOrder": mb.sort_order,
        "totalEmails": c.total,
        "unreadEmails": c.unseen,
        "totalThreads": c.total_threads,
        "unreadThreads": c.unseen_threads,
        "myRights": rights,
        "isSubscribed": mb.subscribed,
    }
