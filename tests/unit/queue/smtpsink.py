"""A tiny scripted SMTP server for queue tests (loopback only, no TLS).

Replies can be scripted per recipient (``rcpt_replies``) and for DATA (``data_reply``); every
transaction is recorded. It is deliberately small: real-peer behaviour is tested against
Postfix in ``tests/e2e/smtp``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Transaction:
    mail_from: str = ""
    mail_params: list[str] = field(default_factory=list)
    rcpts: list[str] = field(default_factory=list)
    data: bytes = b""


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    extensions: tuple[str, ...] = ("8BITMIME", "SIZE 10000000", "DSN", "SMTPUTF8")
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = "250 2.0.0 queued"
    greeting: str = "220 sink.test ESMTP"
    transactions: list[Transaction] = field(default_factory=list)
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> SmtpSink:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        send(self.greeting)
        tx = Transaction()
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    lines = ["sink.test", *self.extensions]
                    for i, ext in enumerate(lines):
                        send(f"250{'-' if i < len(lines) - 1 else ' '}{ext}")
                elif verb == "MAIL":
                    addr, _, params = line[10:].partition(">")
                    tx = Transaction(addr.lstrip("<"), params.split())
                    send("250 2.1.0 ok")
                elif verb == "RCPT":
                    addr = line[8:].split(">")[0].lstrip("<")
                    reply = self.rcpt_replies.get(addr, "250 2.1.5 ok")
                    if reply.startswith("2"):
                        tx.rcpts.append(addr)
                    send(reply)
                elif verb == "DATA":
                    send("354 go ahead")
                    chunks = []
                    while True:
                        chunk = await reader.readline()
                        if chunk in (b".\r\n", b""):
                            break
                        chunks.append(chunk)
                    tx.data = b"".join(chunks)
                    self.transactions.append(tx)
                    send(self.data_reply)
                elif verb == "RSET":
                    tx = Transaction()
                    send("250 ok")
                elif verb == "QUIT":
                    send("221 bye")
                    break
                else:
                    send("502 5.5.1 not implemented")
                await writer.drain()
        finally:
            writer.close()
