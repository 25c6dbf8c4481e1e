"""BDAT (RFC 3030 §2, CHUNKING): ``BDAT <size> [LAST]`` followed by exactly ``size`` octets.

The parser always consumes the octets, so a refused chunk never desynchronises the stream; the
reply (250 or the refusal) is sent after the chunk. A malformed size loses the framing, so the
connection is closed after 501. After ``LAST`` the message ends as after DATA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.proto.command import parse_bdat_args
from rongmail.protocols.smtp.state import PendingChunk

if TYPE_CHECKING:
    from rongmail.protocols.smtp.codes import Reply
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply | None:
    parsed = parse_bdat_args(arg)
    if parsed is None:
        s.closing = True
        return codes.R501_BDAT_SYNTAX
    size, last = parsed
    refusal: Reply | None = None
    tx = s.tx
    if s.helo is None:
        refusal = codes.R503_HELO_FIRST
    elif tx is None:
        refusal = codes.R503_MAIL_FIRST
    elif not tx.rcpts:
        refusal = codes.R554_NO_VALID_RECIPIENTS
    else:
        tx.used_bdat = True
    s.chunk = PendingChunk(size, last, refusal)
    return None
