"""STARTTLS (RFC 3207): 220, then the shell runs the TLS handshake.

The parser stops after this command; once 220 is sent the session discards every octet that
arrived with or after it (RFC 3207 §4.2, CVE-2011-0411) and forgets EHLO, AUTH and the
transaction, so the client must greet again over TLS.
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
    if s.client.tls:
        raise ReplyError(codes.R503_ALREADY_TLS)
    if not s.tls_available:
        raise ReplyError(codes.R454_TLS_UNAVAILABLE)
    if s.tx is not None:
        raise ReplyError(codes.R503_BAD_SEQUENCE)
    s.starttls_pending = True
    return codes.R220_READY_TLS
