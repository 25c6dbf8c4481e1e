"""HELO stage (HELO): on the MX port, refuse a client that claims to be this server.

RFC 5321 §4.1.4 forbids refusing a *mismatch* between the HELO name and the client address, but
a foreign client greeting with our own host name is forging, not mismatching (Postfix's
``reject_unauth_helo``-style check). Authenticated and submission clients are exempt.
"""

from __future__ import annotations

from typing import ClassVar

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import Envelope, Listener
from rongmail.pipeline.stage import ACCEPT, Checkpoint, Verdict, reject


class HeloStage:
    name: ClassVar[str] = "helo"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.HELO})

    def __init__(self, settings: SmtpSettings, *, hostname: str) -> None:
        self._enabled = settings.reject_own_helo
        self._own = hostname.lower().rstrip(".")

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if not self._enabled or env.client.listener is not Listener.MX or not env.helo:
            return ACCEPT
        claimed = env.helo.lower().rstrip(".")
        if claimed == self._own and env.client.ip not in ("127.0.0.1", "::1"):
            return reject(self.name, "helo.forged", env.helo)
        return ACCEPT
