"""ClamAV scanning through clamd's INSTREAM command (clamd.conf(5), "INSTREAM").

:class:`ClamdScanner` implements :class:`~.context.VirusScanner` over a Unix socket or TCP.
``app.py`` builds one when ``spam.clamd`` is configured, or auto-detected at Debian's socket
(:meth:`ClamdScanner.available` answers ``PING``); otherwise the scan is skipped. A scan that
fails (clamd down, size limit) is logged and returns ``None``, or, with ``raise_errors=True``
(what ``app.py`` builds), raises :class:`~.context.ScannerUnavailable` so the pipeline applies
``spam.scanner_failure``: availability problems never lose mail.
"""

from __future__ import annotations

import asyncio
import logging
import struct

from .context import ScannerUnavailable

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
        raise_errors: bool = False,
    ) -> None:
        self.socket_path = socket_path
        self.host = host
        self.port = port
        self.timeout = timeout
        self.raise_errors = raise_errors

    @classmethod
    def from_address(
        cls, address: str, *, timeout: float = 10.0, raise_errors: bool = False
    ) -> ClamdScanner:
        """From ``unix:/path`` or ``tcp:host:port`` (``config.spam.ClamdSettings.address``)."""
        if address.startswith("unix:"):
            return cls(socket_path=address[5:], timeout=timeout, raise_errors=raise_errors)
        host, _, port = address.removeprefix("tcp:").rpartition(":")
        return cls(host=host, port=int(port), timeout=timeout, raise_errors=raise_errors)

    def __repr__(self) -> str:
        where = f"unix:{self.socket_path}" if self.socket_path else f"tcp:{self.host}:{self.port}"
        return f"ClamdScanner({where})"

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
            log.warning("clamd scan failed: %r", e)
            if self.raise_errors:
                raise ScannerUnavailable(f"clamd: {e!r}") from e
            return None
        # "stream: Eicar-Signature FOUND" / "stream: OK" / "INSTREAM size limit exceeded. ERROR"
        if reply.endswith(" FOUND"):
            return reply.removeprefix("stream:").removesuffix(" FOUND").strip()
        if reply.endswith("ERROR"):
            log.warning("clamd error: %s", reply)
            if self.raise_errors:
                raise ScannerUnavailable(f"clamd: {reply[:100]}")
        return None
