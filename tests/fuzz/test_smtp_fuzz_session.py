"""Property tests of the SMTP session: any input yields only well-formed replies, never an
exception, and a message is delivered only with a ``250 ... queued`` reply (hypothesis)."""

from __future__ import annotations

import asyncio
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongmail.config.smtp import SmtpSettings
from rongmail.pipeline.envelope import (
    AuthIdentity,
    Client,
    Envelope,
    Listener,
    RecipientKind,
    Resolution,
)
from rongmail.pipeline.runner import Runner
from rongmail.pipeline.stage import Verdict
from rongmail.pipeline.stages import default_stages
from rongmail.protocols.smtp.session import Session, SmtpServices

REPLY_LINE = re.compile(rb"[2-5][0-9]{2}[ -][\x20-\x7e]*")


class Directory:
    async def resolve(self, address: str) -> Resolution:
        if address.lower().endswith("@example.com"):
            return Resolution(RecipientKind.LOCAL, (1,), address.lower())
        return Resolution(RecipientKind.REMOTE)

    async def may_send_as(self, identity: AuthIdentity, address: str) -> bool:
        return True


class Delivery:
    def __init__(self) -> None:
        self.count = 0

    async def deliver(self, env: Envelope, verdict: Verdict) -> str:
        self.count += 1
        return f"Q{self.count}"


TOKENS = st.sampled_from(
    [
        b"EHLO c\r\n",
        b"HELO c\r\n",
        b"MAIL FROM:<a@example.net>\r\n",
        b"MAIL FROM:<>\r\n",
        b"RCPT TO:<u@example.com>\r\n",
        b"RCPT TO:<v@remote.example>\r\n",
        b"DATA\r\n",
        b"BDAT 5\r\n",
        b"BDAT 3 LAST\r\n",
        b"BDAT x\r\n",
        b"RSET\r\n",
        b"NOOP\r\n",
        b"STARTTLS\r\n",
        b"AUTH PLAIN\r\n",
        b"AUTH LOGIN\r\n",
        b"*\r\n",
        b"VRFY u\r\n",
        b"\r\n.\r\n",
        b".\r\n",
        b"\n.\n",
        b"\r.\r",
        b"..\r\n",
        b"line\r\n",
        b"\n",
        b"\r",
        b"QUIT\r\n",
    ]
)
stream = st.lists(st.one_of(TOKENS, st.binary(max_size=20)), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream, st.sampled_from(list(Listener)))
def test_session_replies_are_well_formed(pieces: list[bytes], listener: Listener) -> None:
    asyncio.run(_run(pieces, listener))


async def _run(pieces: list[bytes], listener: Listener) -> None:
    settings = SmtpSettings(max_line_length=512, max_message_size=4096, auth_failure_delay=0)
    directory, delivery = Directory(), Delivery()
    runner = Runner(default_stages(settings, directory, hostname="mx.example.com"))
    session = Session(
        settings=settings,
        services=SmtpServices(runner, directory, delivery),
        client=Client(
            ip="192.0.2.1", port=1, listener=listener, tls=listener is Listener.SUBMISSIONS
        ),
        hostname="mx.example.com",
        tls_available=False,
    )
    out = (await session.start()).data
    for piece in pieces:
        result = await session.receive(piece)
        out += result.data
        if result.close:
            break
    lines = out.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert REPLY_LINE.fullmatch(line), line
    assert out.count(b" queued as ") == delivery.count
