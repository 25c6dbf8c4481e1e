"""HELO (RFC 5321 §4.1.1.1): plain SMTP greeting; no extensions, state reset (§4.1.4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rongmail.pipeline.stage import Checkpoint
from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import Reply
from rongmail.protocols.smtp.proto.command import parse_helo_arg

if TYPE_CHECKING:
    from rongmail.protocols.smtp.session import Session


async def handle(s: Session, arg: str) -> Reply:
    name = parse_helo_arg(arg)
    s.reset_all()
    s.helo, s.esmtp = None, False
    await s.check(Checkpoint.HELO, s.envelope(helo=name, esmtp=False))
    s.helo = name
    return codes.R250_HELO.format(hostname=s.hostname)
