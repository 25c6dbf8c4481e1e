"""Sender stage (MAIL): on submission, the authenticated user may send only as an address they
own or are delegated (RFC 6409 §8; asked through :meth:`Directory.may_send_as`). The null
reverse-path is for bounces (RFC 5321 §4.5.5) and is refused on submission. On the MX port the
sender is checked later by mailauth (SPF/DMARC), not here.
"""

from __future__ import annotations

from typing import ClassVar

from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.ports import Directory
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, reject


class SenderStage:
    name: ClassVar[str] = "sender"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.MAIL})

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if env.auth is None:
            return ACCEPT
        if not env.mail_from:
            return reject(self.name, "sender.rejected", "null sender on submission")
        if not await self._directory.may_send_as(env.auth, env.mail_from):
            return reject(self.name, "sender.not_owned", env.mail_from)
        return ACCEPT
