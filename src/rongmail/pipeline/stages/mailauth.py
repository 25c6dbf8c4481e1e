"""SPF, DKIM, DMARC and ARC on inbound mail (RFC 7208, 6376, 7489, 8617), at DATA.

Detection only (DESIGN rule 7): the stage adds the ``Authentication-Results`` header (RFC 8601)
and tags such as ``spf.fail`` / ``dmarc.fail``; the only decisions it makes are the ones the
author domain's published DMARC policy asks for: ``p=quarantine`` → Junk, ``p=reject`` → reject
(RFC 7489 §6.6.2). Authenticated submissions are our own users' mail and are skipped. A DNS
failure never rejects: results become ``temperror`` and the mail is accepted.
"""

from __future__ import annotations

from typing import ClassVar

from rongmail.pipeline.envelope import Envelope
from rongmail.pipeline.stage import ACCEPT, Action, Checkpoint, Reason, Verdict
from rongmail.services.mailauth import HEADER_NAME, MailAuthenticator


class MailAuthStage:
    name: ClassVar[str] = "mailauth"
    checkpoints: ClassVar[frozenset[Checkpoint]] = frozenset({Checkpoint.DATA})

    def __init__(self, auth: MailAuthenticator) -> None:
        self.auth = auth

    async def check(self, point: Checkpoint, env: Envelope) -> Verdict:
        if env.authenticated or env.message is None:
            return ACCEPT
        v = await self.auth.check(env.message, ip=env.client.ip, helo=env.helo or "",
                                  mail_from=env.mail_from or "")
        tags = {f"spf.{v.spf.result}", f"dmarc.{v.dmarc.result}"}
        tags |= {f"dkim.{d.result}" for d in v.dkim} or {"dkim.none"}
        headers = ((HEADER_NAME, v.header),)
        disposition = str(v.disposition)
        if disposition == "reject":
            return Verdict(Action.REJECT, (Reason(self.name, "dmarc.reject", v.header),),
                           headers, frozenset(tags))
        if disposition in ("junk", "quarantine"):
            return Verdict(Action.JUNK, (Reason(self.name, "dmarc.quarantine", v.header),),
                           headers, frozenset(tags))
        return Verdict(Action.ACCEPT, (), headers, frozenset(tags))
