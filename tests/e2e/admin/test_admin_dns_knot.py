"""The admin API's DNS wizard against a real Knot (RFC 2136 with TSIG), without a browser:
settings → plan → provider → diff → apply → check all green → a human breaks a record → the
check names it with the fix → push again (the human's competing record is reported, never
deleted) → green."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import dns.asyncquery
import dns.name
import dns.tsigkeyring
import dns.update
import pytest

pytestmark = [pytest.mark.peer, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


@pytest.fixture
async def knot(tmp_path: Path) -> AsyncIterator[Any]:
    from e2e.dns.test_dns_wizard import UpdatableKnot
    from peers import PeerUnavailable, skip_or_fail

    k = UpdatableKnot(tmp_path)
    try:
        k.server.start()
    except PeerUnavailable as e:
        skip_or_fail(str(e))
    try:
        yield k
    finally:
        k.server.stop()


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Any]:
    from aiohttp.test_utils import TestServer

    from rongmail.actions import accounts as acc
    from rongmail.actions import admin as act
    from rongmail.actions.jmap import do_create_token
    from rongmail.protocols.http import admin, login
    from rongmail.protocols.http.server import HttpDeps, build_http_app
    from rongmail.services.admin.roles import Role

    ctx, reader = stack.ctx, stack.reader
    t = await acc.do_create_tenant(ctx, "corp")
    await acc.do_create_domain(ctx, t.id, "corp.test")
    a = await acc.do_create_account(ctx, "it@corp.test", "Correct-Horse-9-Battery")
    await act.do_set_admin_role(ctx, act.SYSTEM, a, Role.DOMAIN_ADMIN)
    token, _ = await do_create_token(ctx, a.id, kind="bearer", name="t")
    srv = TestServer(build_http_app(HttpDeps(settings=ctx.settings, ctx=ctx, reader=reader),
                                    [login.register, admin.register]), host="127.0.0.1", port=0)
    await srv.start_server()
    base = str(srv.make_url("/api/admin/domains/corp.test"))
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
        async def call(method: str, path: str, body: Any = None) -> Any:
            async with s.request(method, base + path, json=body) as r:
                assert r.status < 300, (path, r.status, await r.text())
                return await r.json()

        yield call
    await srv.close()


async def test_push_check_break_fix(api: Any, knot: Any) -> None:
    from e2e.dns.test_dns_wizard import KEY

    srv = knot.server
    await api("PUT", "/dns/settings", {"hosts": [{"name": "mail.corp.test",
                                                  "ipv4": ["127.0.0.1"]}],
                                       "dmarc_stage": "quarantine", "dmarc_pct": 50})
    await api("POST", "/dkim", {"algorithm": "rsa"})
    await api("POST", "/dkim", {"algorithm": "ed25519"})
    await api("PUT", "/dns/provider", {"kind": "rfc2136", "credentials": {
        "server": srv.address, "port": str(srv.port), "keyname": KEY, "secret": knot.secret}})
    before = await api("POST", "/dns/check", {})
    assert not before["allOk"] and {r["status"] for r in before["results"]} == {"missing"}
    d = await api("POST", "/dns/push", {"apply": False})
    assert len(d["add"]) == len(before["results"]) and not d["remove"]
    await api("POST", "/dns/push", {"apply": True})
    after = await api("POST", "/dns/check", {})
    assert after["allOk"], [r for r in after["results"] if r["status"] != "ok"]

    plan = await api("GET", "/dns/plan")
    spf = next(r for r in plan["records"] if "v=spf1" in r["value"])
    dmarc = next(r for r in plan["records"] if r["name"].startswith("_dmarc."))
    human = dns.update.UpdateMessage("corp.test", keyring=dns.tsigkeyring.from_text(
        {KEY: knot.secret}), keyname=dns.name.from_text(KEY))
    human.delete(dmarc["name"], "TXT")
    human.delete(spf["name"], "TXT", spf["value"])
    human.add(spf["name"], 300, "TXT", '"v=spf1 a -all"')
    await dns.asyncquery.tcp(human, srv.address, port=srv.port, timeout=5)

    broken = await api("POST", "/dns/check", {})
    bad = {r["name"]: r for r in broken["results"] if r["status"] != "ok"}
    assert bad[dmarc["name"]]["status"] == "missing"
    assert bad[dmarc["name"]]["fix"].startswith(dmarc["name"])
    assert bad[spf["name"]]["status"] == "wrong" and "v=spf1 mx" in bad[spf["name"]]["fix"]
    assert bad[spf["name"]]["problem"]  # localized explanation of the problem

    d2 = await api("POST", "/dns/push", {"apply": True})
    assert {r["name"] for r in d2["add"]} == {dmarc["name"], spf["name"]}
    assert d2["remove"] == [] and [c["foreign"] for c in d2["conflicts"]] == ['"v=spf1 a -all"']
    fixed = await api("POST", "/dns/check", {})
    assert all(r["status"] == "ok" for r in fixed["results"])
