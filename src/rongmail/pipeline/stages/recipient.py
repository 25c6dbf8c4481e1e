"""Recipient stage (RCPT): unknown local users and relaying (RFC 5321 §3.6, §7.1).

* Unknown in a local domain -> ``recipient.unknown`` (550 5.1.1); disabled -> 550 5.2.1.
* Not a local domain -> relaying, allowed only for authenticated clients or clients inside
  ``relay_networks``; otherwise ``relay.denied`` (554 5.7.1). Address literals, source routes
  (already stripped), ``%`` and ``!`` hacks all reach the directory as plain addresses and so
  resolve UNKNOWN or REMOTE — never to a relay by accident.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import Envelope, RecipientKind
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, reject


class RecipientStage:
    name: ClassVar[str] = "recipient"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.RCPT})

    def __init__(self, settings: SmtpSettings) -> None:
        self._relay = tuple(ipaddress.ip_network(n, strict=False) for n in settings.relay_networks)

    def _may_relay(self, env: Envelope) -> bool:
        if env.auth is not None:
            return True
        if not self._relay:
            return False
        try:
            ip = ipaddress.ip_address(env.client.ip)
        except ValueError:
            return False
        return any(ip in net for net in self._relay)

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        rcpt = env.candidate
        if rcpt is None:
            return ACCEPT
        kind = rcpt.resolution.kind
        if kind is RecipientKind.LOCAL:
            return ACCEPT
        if kind is RecipientKind.UNKNOWN:
            return reject(self.name, "recipient.unknown", rcpt.address)
        if kind is RecipientKind.DISABLED:
            return reject(self.name, "recipient.disabled", rcpt.address)
        if self._may_relay(env):
            return ACCEPT
        return reject(self.name, "relay.denied", rcpt.address)
