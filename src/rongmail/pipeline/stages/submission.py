"""Submission stage (DATA): check and complete a message from an authenticated user
(RFC 6409 §8).

* Every address in the header ``From:`` must be one the user may send as (the envelope sender
  is checked at MAIL by the sender stage); otherwise ``sender.not_owned`` (553 5.7.1). Without
  this, an authenticated user could show any visible sender.
* A message without ``Date:`` or ``Message-ID:`` (RFC 6409 §8.3, RFC 5322 §3.6.4) gets them, as
  verdict headers that delivery prepends; the client's bytes are not rewritten.

Inbound MX mail is never touched (§8 applies to an MSA only).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import format_datetime, getaddresses
from typing import ClassVar

from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.ports import Directory
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, reject


def header_fields(message: bytes) -> list[tuple[bytes, bytes]]:
    """(lower-cased name, unfolded value) of each header field (RFC 5322 §2.2, §2.2.3)."""
    end = message.find(b"\r\n\r\n")
    head = message if end < 0 else message[: end + 2]
    if head.startswith(b"\r\n"):
        return []
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip())
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name.strip().lower(), value.strip()))
    return fields


def header_names(message: bytes) -> set[bytes]:
    """Lower-cased field names of the header section."""
    return {name for name, _ in header_fields(message)}


def from_addresses(message: bytes) -> list[str]:
    """Addresses of every ``From:`` field (RFC 5322 §3.6.2), encoded words decoded."""
    values = []
    for name, raw in header_fields(message):
        if name == b"from":
            text = raw.decode("utf-8", "replace")
            try:
                text = str(make_header(decode_header(text)))
            except (ValueError, LookupError):
                pass
            values.append(text)
    return [addr for _, addr in getaddresses(values) if addr]


class SubmissionStage:
    name: ClassVar[str] = "submission"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.DATA})

    def __init__(
        self,
        directory: Directory,
        *,
        hostname: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._directory = directory
        self._hostname = hostname
        self._now = now

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if env.auth is None or env.message is None:
            return ACCEPT
        for address in from_addresses(env.message):
            if not await self._directory.may_send_as(env.auth, address):
                return reject(self.name, "sender.not_owned", f"From: {address}")
        present = header_names(env.message)
        added: list[tuple[str, str]] = []
        if b"date" not in present:
            added.append(("Date", format_datetime(self._now())))
        if b"message-id" not in present:
            added.append(("Message-ID", f"<{secrets.token_hex(12)}@{self._hostname}>"))
        return Verdict(headers=tuple(added)) if added else ACCEPT
