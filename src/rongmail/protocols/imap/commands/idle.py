"""IDLE (RFC 9051 §6.3.13, RFC 2177).

Invariants: after ``+ idling`` the parser reads the next line as ``DONE``; while idling, the
shell waits on both the socket and the account's change bus and calls
:meth:`~..session.Session.send_updates`, so a change reaches the client as soon as it is
committed; the tagged OK is sent when DONE arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import PENDING, Pending
from ..proto import commands as c
from ..proto.response import continuation

if TYPE_CHECKING:
    from ..session import Session


async def idle(s: Session, cmd: c.Idle) -> Pending:
    await s.send_updates(expunges=True)
    s.send(continuation(s.text("imap.continue.idle"), utf8=s.utf8))
    s.idle_tag = cmd.tag
    s.parser.expect_idle_done()
    return PENDING
