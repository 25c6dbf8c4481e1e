"""MAIL FROM (RFC 5321 §4.1.1.2): start a transaction.

Parameters per :mod:`rongmail.protocols.smtp.proto.params` (ESMTP only; a HELO client may send
none, RFC 5321 §4.1.1.11). SIZE above the limit is refused here (RFC 1870 §6.1, 552 5.3.4).
A non-ASCII sender needs SMTPUTF8 (RFC 6531 §3.4, 553 5.6.7). Submission ports require AUTH
first (RFC 6409 §4.3, 530 5.7.0); the sender stage then checks the address is owned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.pipeline.stage import Checkpoint
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply, ReplyError
from rongmail.protocols.smtp.proto.params import MailParams, parse_mail_params
from rongmail.protocols.smtp.proto.path import parse_path, split_keyword
from rongmail.protocols.smtp.state import Transaction

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    if s.helo is None:
        raise ReplyError(codes.R503_HELO_FIRST)
    if s.tx is not None:
        raise ReplyError(codes.R503_NESTED_MAIL)
    if s.is_submission and s.auth is None:
        if not s.client.tls and s.settings.require_tls_for_auth:
            raise ReplyError(codes.R530_STARTTLS_FIRST)
        raise ReplyError(codes.R530_AUTH_REQUIRED)
    mailbox, rest = parse_path(
        split_keyword(arg, "FROM"), null_ok=True, bad=codes.R501_SENDER_SYNTAX
    )
    if rest and not s.esmtp:
        raise ReplyError(codes.R555_UNSUPPORTED_PARAMETER)
    params = parse_mail_params(rest) if rest else MailParams()
    if mailbox is not None and not mailbox.is_ascii and not params.smtputf8:
        raise ReplyError(codes.R553_SMTPUTF8_REQUIRED)
    if params.size is not None and params.size > s.settings.max_message_size:
        raise ReplyError(codes.R552_MESSAGE_TOO_BIG)
    sender = str(mailbox) if mailbox is not None else ""
    tx = Transaction(mail_from=sender, params=params)
    env = s.envelope(
        mail_from=sender,
        declared_size=params.size,
        body=params.body,
        smtputf8=params.smtputf8,
        ret=params.ret,
        envid=params.envid,
    )
    await s.check(Checkpoint.MAIL, env)
    s.tx = tx
    return codes.R250_SENDER_OK
