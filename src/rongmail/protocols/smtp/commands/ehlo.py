"""EHLO (RFC 5321 §4.1.1.1): greet, reset state, list the extensions offered.

Keywords: PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
ENHANCEDSTATUSCODES (RFC 2034), CHUNKING (RFC 3030), DSN (RFC 3461), STARTTLS (RFC 3207) while
TLS is available and not active, AUTH (RFC 4954) only where it may be used now (never in clear
text when TLS is required).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.pipeline.stage import Checkpoint
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply
from rongmail.protocols.smtp.proto.command import parse_helo_arg
from rongmail.protocols.smtp.proto.sasl import MECHANISMS

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


def capabilities(s: Session) -> tuple[str, ...]:
    caps = [
        "PIPELINING",
        f"SIZE {s.settings.max_message_size}",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
    ]
    if s.tls_available and not s.client.tls:
        caps.append("STARTTLS")
    if s.auth_allowed_now and s.auth is None:
        caps.append("AUTH " + " ".join(MECHANISMS))
    return tuple(caps)


async def handle(s: Session, arg: str) -> Reply:
    name = parse_helo_arg(arg)
    s.reset_all()
    s.helo, s.esmtp = None, False
    await s.check(Checkpoint.HELO, s.envelope(helo=name, esmtp=True))
    s.helo, s.esmtp = name, True
    return codes.R250_EHLO.format(hostname=s.hostname, helo=name).with_lines(capabilities(s))
