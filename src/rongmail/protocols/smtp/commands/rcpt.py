"""RCPT TO (RFC 5321 §4.1.1.3): add a recipient after the directory and the pipeline agree.

The address is resolved through the directory port (accounts, aliases, groups, shared mailboxes,
plus-addressing, catch-all); the recipient stage then refuses unknown users (550 5.1.1) and
relaying for unauthenticated clients (554 5.7.1). Source routes were already dropped by the path
grammar (RFC 5321 §4.1.1.3: "SHOULD NOT use source routes"). More than ``max_recipients`` get
452 4.5.3 (RFC 5321 §4.5.3.1.10) so the client retries the rest later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.pipeline.envelope import Recipient
from rongmail.pipeline.stage import Checkpoint
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError
from rongmail.protocols.smtp.proto.params import RcptParams, parse_rcpt_params
from rongmail.protocols.smtp.proto.path import parse_path, split_keyword

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    tx = s.tx
    if tx is None:
        raise ReplyError(codes.R503_MAIL_FIRST)
    if len(tx.rcpts) >= s.settings.max_recipients:
        raise ReplyError(codes.R452_TOO_MANY_RECIPIENTS)
    mailbox, rest = parse_path(
        split_keyword(arg, "TO"), null_ok=False, bad=codes.R501_RECIPIENT_SYNTAX
    )
    if mailbox is None:  # pragma: no cover - null_ok=False never yields None
        raise ReplyError(codes.R501_RECIPIENT_SYNTAX)
    if rest and not s.esmtp:
        raise ReplyError(codes.R555_UNSUPPORTED_PARAMETER)
    params = parse_rcpt_params(rest) if rest else RcptParams()
    if not mailbox.is_ascii and not tx.params.smtputf8:
        raise ReplyError(codes.R553_SMTPUTF8_REQUIRED)
    address = str(mailbox)
    resolution = await s.services.directory.resolve(address)
    candidate = Recipient(address, resolution, params.notify, params.orcpt)
    await s.check(Checkpoint.RCPT, s.envelope(candidate=candidate))
    tx.rcpts.append(candidate)
    return codes.R250_RECIPIENT_OK
