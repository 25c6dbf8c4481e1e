"""Size stage (MAIL, DATA): the declared SIZE (RFC 1870 §6.1) and the received size against
``max_message_size``. The session already stops buffering past the limit while streaming; this
stage keeps the policy in the pipeline record (and is where per-domain limits will go).
"""

from __future__ import annotations

from typing import ClassVar

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, reject


class SizeStage:
    name: ClassVar[str] = "size"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.MAIL, Checkpoint.DATA})

    def __init__(self, settings: SmtpSettings) -> None:
        self._limit = settings.max_message_size

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        size = env.declared_size if point is Checkpoint.MAIL else len(env.message or b"")
        if size is not None and size > self._limit:
            return reject(self.name, "size.exceeded", str(size))
        return ACCEPT
