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


def is_builtin_row(row: IdentityRow, account: Account) -> bool:
    """The stored edits of the built-in identity (name, signatures...): an undeletable row for
    the account's own address, shown under the built-in id ``I0``."""
    return not row.may_delete and row.email == account.address


async def all_identities(reader: Any, account: Account) -> dict[int, dict[str, Any]]:
    builtin = builtin_identity(account)
    out: dict[int, dict[str, Any]] = {}
    for row in await reader.identities(account.id):
        if is_builtin_row(row, account):
            builtin = {**identity_json(row), "id": ids.encode(ids.IDENTITY, BUILTIN),
                       "mayDelete": False}
            continue
        out[row.id] = identity_json(row)
    return {BUILTIN: builtin, **out}
