"""A small shared HTTP client for provider APIs (aiohttp, bounded time, JSON replies)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from rongmail.services.dnswizard.providers.base import ProviderError


class JsonClient:
    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      body: bytes | None = None) -> tuple[int, Any]:
        try:
            async with self.session().request(method, url, headers=headers, data=body) as r:
                raw = await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as e:
            raise ProviderError(detail=f"{method} {url}: {e!r}") from None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise ProviderError(detail=f"{method} {url}: HTTP {status}, not JSON") from None
        return status, data

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
