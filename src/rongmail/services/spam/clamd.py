"""ClamAV scanning through clamd's INSTREAM command (clamd.conf(5), "INSTREAM").

:class:`ClamdScanner` implements :class:`~.context.VirusScanner` over a Unix socket or TCP.
``app.py`` builds one when ``clamd`` is configured and answers ``PING`` at start
(:meth:`ClamdScanner.available`); otherwise the scan is skipped. A scan that fails (clamd down,
size limit) returns ``None`` and is logged: availability problems never block mail here; the
policy can still quarantine on the other attachment tags.
"""

from __future__ import annotations

import asyncio
import logging
import struct

__all__ = ["ClamdScanner"]

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


class ClamdScanner:
    def __init__(
        self,
        *,
        socket_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 3310,
        timeout: float = 10.0,
    ) -> None:
        self.socket_path = socket_path
        self.host = host
        self.port = port
        self.timeout = timeout

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.socket_path:
            return await asyncio.open_unix_connection(self.socket_path)
        return await asyncio.open_connection(self.host, self.port)

    async def _command(self, payload: bytes | None, command: bytes) -> bytes:
        reader, writer = await asyncio.wait_for(self._open(), self.timeout)
        try:
            writer.write(b"z" + command + b"\0")
            if payload is not None:
                for i in range(0, len(payload), CHUNK):
                    chunk = payload[i : i + CHUNK]
                    writer.write(struct.pack(">I", len(chunk)) + chunk)
                    await writer.drain()
                writer.write(struct.pack(">I", 0))
            await writer.drain()
            return await asyncio.wait_for(reader.readuntil(b"\0"), self.timeout)
        finally:
            writer.close()

    async def available(self) -> bool:
        try:
            return (await self._command(None, b"PING")).rstrip(b"\0") == b"PONG"
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            return False

    async def scan(self, data: bytes) -> str | None:
        """The signature name when clamd finds malware, else ``None``."""
        try:
            reply = (await self._command(data, b"INSTREAM")).rstrip(b"\0").decode(errors="replace")
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
            log.warning("clamd scan failed: %s", e)
            return None
        # "stream: Eicar-Signature FOUND" / "stream: OK" / "INSTREAM size limit exceeded. ERROR"
        if reply.endswith(" FOUND"):
            return reply.removeprefix("stream:").removesuffix(" FOUND").strip()
        if reply.endswith("ERROR"):
            log.warning("clamd error: %s", reply)
        return None
