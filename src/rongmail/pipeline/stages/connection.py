"""Connection stage (CONNECT): refuse clients from ``deny_networks`` with 554 (RFC 5321 §3.1).

Concurrent-connection limits need the accept loop's counters and live in ``smtp/server.py``.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, reject


class ConnectionStage:
    name: ClassVar[str] = "connection"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.CONNECT})

    def __init__(self, settings: SmtpSettings) -> None:
        self._deny = tuple(ipaddress.ip_network(n, strict=False) for n in settings.deny_networks)

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if not self._deny:
            return ACCEPT
        try:
            ip = ipaddress.ip_address(env.client.ip)
        except ValueError:
            return ACCEPT
        if any(ip in net for net in self._deny):
            return reject(self.name, "connection.denied", env.client.ip)
        return ACCEPT
