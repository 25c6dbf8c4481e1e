"""Identity objects (RFC 8621 §6). Every account has a built-in identity ``I0`` for its own
address (``mayDelete: false``); further identities are rows of ``jmap_identity``."""

from __future__ import annotations

from typing import Any

from rongmail.core.models import Account
from rongmail.protocols.jmap.proto import ids
from rongmail.store.reader import IdentityRow

PROPERTIES = ("id", "name", "email", "replyTo", "bcc", "textSignature", "htmlSignature",
              "mayDelete")
BUILTIN = 0


def builtin_identity(account: Account) -> dict[str, Any]:
    return {"id": ids.encode(ids.IDENTITY, BUILTIN), "name": account.display_name,
            "email": account.address, "replyTo": None, "bcc": None, "textSignature": "",
            "htmlSignature": "", "mayDelete": False}


def identity_json(row: IdentityRow) -> dict[str, Any]:
    return {"id": ids.encode(ids.IDENTITY, row.id), "name": row.name, "email": row.email,
            "replyTo": row.reply_to, "bcc": row.bcc, "textSignature": row.text_signature,
            "htmlSignature": row.html_signature, "mayDelete": row.may_delete}


async def all_identities(reader: Any, account: Account) -> dict[int, dict[str, Any]]:
    out = {BUILTIN: builtin_identity(account)}
    for row in await reader.identities(account.id):
        out[row.id] = identity_json(row)
    return out
