"""A cached HTTP Basic login stops working as soon as the password changes."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from e2e.conftest import run_server  # noqa: E402


async def _status(url: str, user: str, pw: str) -> int:
    auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
    async with aiohttp.ClientSession() as s, s.get(url, headers={"Authorization": auth}) as r:
        return r.status


async def test_password_change_ends_cached_basic_auth(tmp_path: Path) -> None:
    with run_server(tmp_path) as srv:
        srv.add_user("li@corp.test", "Old-pass-2026")
        url = srv.url("/.well-known/jmap")
        assert await _status(url, "li@corp.test", "Old-pass-2026") == 200
        assert await _status(url, "li@corp.test", "Old-pass-2026") == 200  # cached
        srv.cli("user", "passwd", "li@corp.test", "--password", "New-pass-2026")
        import asyncio

        await asyncio.sleep(11)  # the account cache (CACHE_TTL = 10 s) expires
        assert await _status(url, "li@corp.test", "Old-pass-2026") == 401
        assert await _status(url, "li@corp.test", "New-pass-2026") == 200
