"""rspamd adapter: the reply mapping and a fake HTTP server (a real rspamd:
``tests/e2e/spam/test_rspamd_live.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from rongmail.services.spam import Policy, ScanContext, analyze
from rongmail.services.spam.message import parse
from rongmail.services.spam.rspamd import RspamdClient, action_tag

from .helpers import raw_message


@pytest.mark.parametrize(
    ("action", "want"),
    [
        ("no action", "RSPAMD_HAM"),
        ("greylist", "RSPAMD_SUSPECT"),
        ("add header", "RSPAMD_SPAM"),
        ("reject", "RSPAMD_SPAM_HIGH"),
        ("something new", None),
        (None, None),
    ],
)
def test_action_mapping_is_closed(action: str | None, want: str | None) -> None:
    t = action_tag({"action": action, "score": 3.0, "symbols": {"A": {"score": 1.0}}})
    assert (t.name if t else None) == want


def test_detail_lists_the_strongest_symbols() -> None:
    reply = {
        "action": "reject",
        "score": 16.2,
        "symbols": {
            "BAYES_SPAM": {"score": 5.1},
            "R_SPF_FAIL": {"score": 1.0},
            "X": {"score": 0.0},
        },
    }
    t = action_tag(reply)
    assert t is not None and t.detail.startswith("score=16.2 BAYES_SPAM(+5.1) R_SPF_FAIL(+1.0)")


@pytest.fixture
async def fake_rspamd() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def check(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(dict(request.headers))
        action = "reject" if b"viagra" in body else "no action"
        return web.json_response({"action": action, "score": 20.0 if action == "reject" else 0.1})

    async def ping(_r: web.Request) -> web.Response:
        return web.Response(text="pong\r\n")

    app = web.Application()
    app.router.add_post("/checkv2", check)
    app.router.add_get("/ping", ping)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_client_against_a_fake_server(fake_rspamd: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = fake_rspamd
    client = RspamdClient(url)
    assert await client.available()
    raw = raw_message(body="cheap viagra")
    ctx = ScanContext(raw=raw, external=(client,), client_ip="203.0.113.5", helo="mx.example")
    verdict = Policy().decide(await analyze(parse(raw), ctx))
    assert "RSPAMD_SPAM_HIGH" in verdict.tag_names
    assert seen[0]["IP"] == "203.0.113.5" and seen[0]["Helo"] == "mx.example"


async def test_unreachable_rspamd_adds_nothing() -> None:
    client = RspamdClient("http://127.0.0.1:9", timeout=1.0)
    assert not await client.available()
    assert await client.tags(raw_message(), ScanContext()) == []
