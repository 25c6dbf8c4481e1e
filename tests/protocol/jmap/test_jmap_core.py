"""RFC 8620 core over HTTP: session resource, batching, result references (§3.7 example),
Core/echo (§4), standard request- and method-level errors (§3.6), limits, authentication."""

from __future__ import annotations

import base64
import json

import pytest
from jmap_helpers import PASSWORD, USER, USING, JmapEnv

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


async def test_session_resource(jmap: JmapEnv) -> None:
    async with jmap.http.get(jmap.base + "/.well-known/jmap", headers=jmap.headers()) as r:
        assert r.status == 200
        s = await r.json()
    core = s["capabilities"]["urn:ietf:params:jmap:core"]
    for k in ("maxSizeRequest", "maxCallsInRequest", "maxObjectsInGet", "maxObjectsInSet",
              "maxConcurrentRequests", "maxSizeUpload"):
        assert isinstance(core[k], int)
    assert s["primaryAccounts"]["urn:ietf:params:jmap:mail"] == jmap.aid
    assert s["username"] == USER
    assert s["apiUrl"].endswith("/jmap/api")
    assert "{blobId}" in s["downloadUrl"] and "{accountId}" in s["uploadUrl"]
    assert s["state"]


async def test_unauthenticated_is_401(jmap: JmapEnv) -> None:
    async with jmap.http.get(jmap.base + "/.well-known/jmap") as r:
        assert r.status == 401
        assert "Basic" in r.headers["WWW-Authenticate"]
    async with jmap.http.post(jmap.base + "/jmap/api", data=b"{}",
                              headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401


async def test_basic_auth(jmap: JmapEnv) -> None:
    cred = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    async with jmap.http.get(jmap.base + "/.well-known/jmap",
                             headers={"Authorization": f"Basic {cred}"}) as r:
        assert r.status == 200
    bad = base64.b64encode(f"{USER}:wrong".encode()).decode()
    async with jmap.http.get(jmap.base + "/.well-known/jmap",
                             headers={"Authorization": f"Basic {bad}"}) as r:
        assert r.status == 401


async def test_echo_and_batching(jmap: JmapEnv) -> None:
    resp = await jmap.call(["Core/echo", {"hello": True, "high": 5}, "b3ba8"],
                           ["Core/echo", {"x": "蓉"}, "c2"])
    assert resp == [["Core/echo", {"hello": True, "high": 5}, "b3ba8"],
                    ["Core/echo", {"x": "蓉"}, "c2"]]


async def test_result_references_rfc_example(jmap: JmapEnv) -> None:
    """RFC 8620 §3.7: Email/query -> Email/get of its ids -> Thread/get of their threads."""
    inbox = await jmap.mailbox_id("inbox")
    for i in range(3):
        await jmap.deliver(f"msg {i}")
    resp = await jmap.call(
        ["Email/query", {"accountId": jmap.aid, "filter": {"inMailbox": inbox},
                         "sort": [{"property": "receivedAt", "isAscending": False}],
                         "limit": 10}, "t0"],
        ["Email/get", {"accountId": jmap.aid,
                       "#ids": {"resultOf": "t0", "name": "Email/query", "path": "/ids"},
                       "properties": ["threadId"]}, "t1"],
        ["Thread/get", {"accountId": jmap.aid,
                        "#ids": {"resultOf": "t1", "name": "Email/get",
                                 "path": "/list/*/threadId"}}, "t2"],
        ["Email/get", {"accountId": jmap.aid,
                       "#ids": {"resultOf": "t2", "name": "Thread/get",
                                "path": "/list/*/emailIds"},
                       "properties": ["from", "receivedAt", "subject"]}, "t3"])
    assert [r[0] for r in resp] == ["Email/query", "Email/get", "Thread/get", "Email/get"]
    assert len(resp[0][1]["ids"]) == 3
    assert len(resp[2][1]["list"]) == 3
    assert sorted(e["subject"] for e in resp[3][1]["list"]) == ["msg 0", "msg 1", "msg 2"]


async def test_request_level_errors(jmap: JmapEnv) -> None:
    status, body = await jmap.post(None, raw=b"{not json")
    assert status == 400 and body["type"] == "urn:ietf:params:jmap:error:notJSON"
    status, body = await jmap.post({"using": "x", "methodCalls": []})
    assert status == 400 and body["type"] == "urn:ietf:params:jmap:error:notRequest"
    status, body = await jmap.post({"using": ["urn:example:nope"], "methodCalls": []})
    assert status == 400 and body["type"] == "urn:ietf:params:jmap:error:unknownCapability"
    status, body = await jmap.post({"using": USING,
                                    "methodCalls": [["Core/echo", {}, str(i)] for i in range(99)]})
    assert status == 400 and body["type"] == "urn:ietf:params:jmap:error:limit"
    assert body["limit"] == "maxCallsInRequest"
    status, body = await jmap.post(None, raw=b" " * 10_000_001)
    assert status == 400 and body["limit"] == "maxSizeRequest"
    status, body = await jmap.post({"using": USING, "methodCalls": [["Core/echo", {}]]})
    assert status == 400 and body["type"] == "urn:ietf:params:jmap:error:notRequest"


async def test_method_level_errors(jmap: JmapEnv) -> None:
    resp = await jmap.call(
        ["Foo/bar", {}, "a"],
        ["Mailbox/get", {"accountId": jmap.aid, "ids": "notalist"}, "b"],
        ["Mailbox/get", {"accountId": "A999999"}, "c"],
        ["Email/get", {"accountId": jmap.aid,
                       "#ids": {"resultOf": "zz", "name": "Email/query", "path": "/ids"}}, "d"],
        ["Email/get", {"accountId": jmap.aid, "ids": [],
                       "#ids": {"resultOf": "a", "name": "Foo/bar", "path": "/ids"}}, "e"],
        ["Email/get", {"accountId": jmap.aid, "ids": ["E1"] * 501}, "f"],
        ["Mailbox/get", {"accountId": jmap.aid, "bogus": 1}, "g"],
        ["Email/query", {"accountId": jmap.aid, "filter": {"nope": 1}}, "h"],
        ["Email/query", {"accountId": jmap.aid, "sort": [{"property": "nope"}]}, "i"],
        ["Email/changes", {"accountId": jmap.aid, "sinceState": "garbage"}, "j"],
        ["Email/set", {"accountId": jmap.aid, "ifInState": "0"}, "k"],
        ["Email/set", {"accountId": jmap.aid,
                       "destroy": [f"E{i}" for i in range(600)]}, "l"],
    )
    types = {r[2]: r[1].get("type") for r in resp}
    assert all(r[0] == "error" for r in resp), resp
    assert types == {"a": "unknownMethod", "b": "invalidArguments", "c": "accountNotFound",
                     "d": "invalidResultReference", "e": "invalidArguments",
                     "f": "requestTooLarge", "g": "invalidArguments", "h": "unsupportedFilter",
                     "i": "unsupportedSort", "j": "cannotCalculateChanges",
                     "k": "stateMismatch", "l": "requestTooLarge"}


async def test_capability_not_in_using_is_unknown_method(jmap: JmapEnv) -> None:
    resp = await jmap.call(["Mailbox/get", {"accountId": jmap.aid}, "a"],
                           using=["urn:ietf:params:jmap:core"])
    assert resp[0][0] == "error" and resp[0][1]["type"] == "unknownMethod"


async def test_upload_download_and_access(jmap: JmapEnv) -> None:
    data = "附件内容 attachment".encode()
    async with jmap.http.post(f"{jmap.base}/jmap/upload/{jmap.aid}", data=data,
                              headers={**jmap.headers(), "Content-Type": "text/plain"}) as r:
        assert r.status == 201
        up = await r.json()
    assert up["size"] == len(data) and up["type"] == "text/plain"
    url = f"{jmap.base}/jmap/download/{jmap.aid}/{up['blobId']}/a%20b.txt?type=text/plain"
    async with jmap.http.get(url, headers=jmap.headers()) as r:
        assert r.status == 200
        assert await r.read() == data
        assert "filename*=UTF-8''a%20b.txt" in r.headers["Content-Disposition"]
        assert "sandbox" in r.headers["Content-Security-Policy"]
    # another account cannot read it, even with its own account id
    other = f"{jmap.base}/jmap/download/A{jmap.other.id}/{up['blobId']}/x?type=text/plain"
    async with jmap.http.get(other, headers=jmap.headers(jmap.token2)) as r:
        assert r.status == 404


async def test_web_login_cookie_and_csrf(jmap: JmapEnv) -> None:
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.post(jmap.base + "/api/login",
                          json={"username": USER, "password": "wrong"}) as r:
            assert r.status == 401
        async with s.post(jmap.base + "/api/login",
                          json={"username": USER, "password": PASSWORD}) as r:
            assert r.status == 200
            info = await r.json()
            cookie = r.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert info["accountId"] == jmap.aid and info["csrfToken"]
        async with s.get(jmap.base + "/api/me") as r:
            assert r.status == 200
            me = await r.json()
        assert me["username"] == USER and me["csrfToken"] == info["csrfToken"]
        body = json.dumps({"using": USING, "methodCalls": [["Core/echo", {"a": 1}, "0"]]})
        async with s.post(jmap.base + "/jmap/api", data=body) as r:
            assert r.status == 403  # no CSRF header
        async with s.post(jmap.base + "/jmap/api", data=body,
                          headers={"X-CSRF-Token": "forged"}) as r:
            assert r.status == 403
        async with s.post(jmap.base + "/jmap/api", data=body,
                          headers={"X-CSRF-Token": info["csrfToken"]}) as r:
            assert r.status == 200
        async with s.post(jmap.base + "/api/logout",
                          headers={"X-CSRF-Token": info["csrfToken"]}) as r:
            assert r.status == 200
        async with s.get(jmap.base + "/api/me") as r:
            assert r.status == 401


async def test_eventsource_last_event_id_resync(jmap: JmapEnv) -> None:
    await jmap.deliver("before reconnect")
    url = jmap.base + "/jmap/eventsource?types=*&closeafter=state&ping=0"
    async with jmap.http.get(url, headers={**jmap.headers(), "Last-Event-ID": "1"}) as r:
        text = (await r.read()).decode()
    assert "event: state" in text and '"Email"' in text and "id: " in text
