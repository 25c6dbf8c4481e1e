"""HTTP request lines sent to SMTP (``GET``, ``POST``, ``CONNECT``...): close at once.

A browser or proxy tricked into talking to port 25 (cross-protocol attacks, cf. Postfix's
``smtpd_forbidden_commands``) must not get a dialogue: one 554 and the connection ends. The
remaining lines of such a request are never interpreted as SMTP commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session

VERBS = ("GET", "POST", "PUT", "HEAD", "CONNECT", "OPTIONS", "DELETE", "PATCH")


async def handle(s: Session, arg: str) -> Reply:
    s.closing = True
    return codes.R554_NOT_SMTP
