"""Submission stage (DATA): complete a message from an authenticated user (RFC 6409 §8).

A message submitted without ``Date:`` (RFC 6409 §8.3) or ``Message-ID:`` (§8.3, RFC 5322
§3.6.4) gets them, as verdict headers that delivery prepends; the client's bytes are not
rewritten. Inbound MX mail is never touched (§8 applies to an MSA only).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import ClassVar

from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict


def header_names(message: bytes) -> set[bytes]:
    """Lower-cased field names of the header section (RFC 5322 §2.2)."""
    end = message.find(b"\r\n\r\n")
    head = message if end < 0 else message[: end + 2]
    if head.startswith(b"\r\n"):
        return set()
    names = set()
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") or b":" not in line:
            continue
        names.add(line.split(b":", 1)[0].strip().lower())
    return names


class SubmissionStage:
    name: ClassVar[str] = "submission"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.DATA})

    def __init__(
        self, *, hostname: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._hostname = hostname
        self._now = now

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if env.auth is None or env.message is None:
            return ACCEPT
        present = header_names(env.message)
        added: list[tuple[str, str]] = []
        if b"date" not in present:
            added.append(("Date", format_datetime(self._now())))
        if b"message-id" not in present:
            added.append(("Message-ID", f"<{secrets.token_hex(12)}@{self._hostname}>"))
        return Verdict(headers=tuple(added)) if added else ACCEPT
