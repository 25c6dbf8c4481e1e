"""DATA (RFC 5321 §4.1.1.4): 354, then content up to ``<CRLF>.<CRLF>``.

The parser does the framing and dot-unstuffing (§4.5.2) and flags bare CR/LF; the session
decides at the end (reject whole, never split: CVE-2023-51766). Refusals here: no transaction
(503), no accepted recipient (554 5.5.1, §3.3), DATA after BDAT in one transaction (503,
RFC 3030 §2), an argument (501).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    if arg:
        raise ReplyError(codes.R501_SYNTAX)
    tx = s.tx
    if tx is None:
        raise ReplyError(codes.R503_MAIL_FIRST)
    if tx.used_bdat:
        raise ReplyError(codes.R503_DATA_AFTER_BDAT)
    if not tx.rcpts:
        raise ReplyError(codes.R554_NO_VALID_RECIPIENTS)
    s.receiving_data = True
    return codes.R354_START_DATA
