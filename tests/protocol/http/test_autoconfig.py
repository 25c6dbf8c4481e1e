"""Autoconfig documents are what the clients expect, over real HTTP, and match the listeners."""

from __future__ import annotations

import plistlib
import xml.etree.ElementTree as ET

import pytest
from aiohttp import ClientSession, web

from rongmail.actions import accounts as acc
from rongmail.config.settings import Listeners, Settings
from rongmail.protocols.http import autoconfig
from rongmail.protocols.http.server import HttpDeps, build_http_app


@pytest.fixture
async def server(stack):  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "corp")
    await acc.do_create_domain(stack.ctx, t.id, "corp.test")
    settings = Settings(listeners=Listeners(imaps="127.0.0.1:2993", imap="127.0.0.1:2143",
                                            submissions="127.0.0.1:2465",
                                            submission="127.0.0.1:2587", pop3s="127.0.0.1:2995",
                                            pop3="127.0.0.1:2110"))
    deps = HttpDeps(settings=settings, ctx=stack.ctx, reader=stack.reader)
    app = build_http_app(deps, [autoconfig.register])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


async def test_thunderbird(server: str) -> None:
    async with ClientSession() as s:
        r = await s.get(f"{server}/.well-known/autoconfig/mail/config-v1.1.xml",
                        params={"emailaddress": "li@corp.test"})
        assert r.status == 200
        root = ET.fromstring(await r.text())
        assert root.tag == "clientConfig" and root.get("version") == "1.1"
        prov = root.find("emailProvider")
        assert prov is not None and prov.findtext("domain") == "corp.test"
        incoming = {(e.get("type"), e.findtext("port"), e.findtext("socketType"))
                    for e in prov.findall("incomingServer")}
        assert ("imap", "2993", "SSL") in incoming and ("pop3", "2995", "SSL") in incoming
        out = prov.find("outgoingServer")
        assert out is not None and out.findtext("port") == "2465"
        assert out.findtext("username") == "%EMAILADDRESS%"
        r = await s.get(f"{server}/.well-known/autoconfig/mail/config-v1.1.xml",
                        params={"emailaddress": "x@not-hosted.test"})
        assert r.status == 404


async def test_outlook_pox_and_json(server: str) -> None:
    req = ('<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
           'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>li@corp.test'
           '</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/'
           'autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>'
           '</Autodiscover>')
    async with ClientSession() as s:
        r = await s.post(f"{server}/autodiscover/autodiscover.xml", data=req)
        assert r.status == 200
        ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
        root = ET.fromstring(await r.text())
        protos = root.findall(".//a:Protocol", ns)
        got = {(p.findtext("a:Type", namespaces=ns), p.findtext("a:Port", namespaces=ns))
               for p in protos}
        assert ("IMAP", "2993") in got and ("SMTP", "2465") in got
        bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
        assert (await s.post(f"{server}/autodiscover/autodiscover.xml", data=bomb)).status == 400
        r = await s.get(f"{server}/autodiscover/autodiscover.json/v1.0/li@corp.test",
                        params={"Protocol": "AutodiscoverV1"})
        assert r.status == 200 and (await r.json())["Protocol"] == "AutodiscoverV1"


async def test_apple_profile_is_a_plist(server: str) -> None:
    async with ClientSession() as s:
        r = await s.get(f"{server}/apple/mail.mobileconfig", params={"email": "li@corp.test"})
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/x-apple-aspen-config")
        prof = plistlib.loads(await r.read())
        kinds = {p["PayloadType"] for p in prof["PayloadContent"]}
        assert kinds == {"com.apple.mail.managed", "com.apple.caldav.account",
                         "com.apple.carddav.account"}
        mail = next(p for p in prof["PayloadContent"] if p["PayloadType"].endswith("managed"))
        assert mail["IncomingMailServerPortNumber"] == 2993
        assert mail["EmailAddress"] == "li@corp.test"


async def test_mta_sts_policy_by_host(server: str) -> None:
    async with ClientSession() as s:
        r = await s.get(f"{server}/.well-known/mta-sts.txt",
                        headers={"Host": "mta-sts.corp.test"})
        assert r.status == 200
        body = await r.text()
        assert body.startswith("version: STSv1\r\nmode: testing\r\n") and "max_age:" in body
        r = await s.get(f"{server}/.well-known/mta-sts.txt", headers={"Host": "mta-sts.x.test"})
        assert r.status == 404


async def test_static_webmail_headers_and_traversal(stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rongmail.protocols.http import static_web

    root = tmp_path / "web"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>x</title>")
    (root / "assets" / "app-1234.js").write_text("console.log(1)")
    (root / "sw.js").write_text("self")
    (tmp_path / "secret.txt").write_text("nope")
    import rongmail.protocols.http.static_web as sw

    orig = sw.static_dir
    sw.static_dir = lambda: root  # type: ignore[assignment]
    try:
        deps = HttpDeps(settings=Settings(), ctx=stack.ctx, reader=stack.reader)
        app = build_http_app(deps, [static_web.register])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        async with ClientSession() as s:
            r = await s.get(base + "/")
            assert r.status == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["Cache-Control"] == "no-cache"
            assert r.headers["X-Frame-Options"] == "DENY"
            r = await s.get(base + "/assets/app-1234.js")
            assert "immutable" in r.headers["Cache-Control"]
            assert r.headers["Content-Type"].startswith("text/javascript")
            assert (await s.get(base + "/sw.js")).headers["Cache-Control"] == "no-cache"
            for bad in ("/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"):
                assert (await s.get(base + bad)).status == 404
        await runner.cleanup()
    finally:
        sw.static_dir = orig  # type: ignore[assignment]
