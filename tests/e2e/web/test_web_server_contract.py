"""The server side of the webmail contract (web/README.md, "What the server must provide"),
checked over plain HTTP against a real ``rongmail serve`` — no browser. Each test here was
found while driving the webmail in Chromium (two of them were server bugs, now fixed: saving a
signature on the built-in identity, and EventSource handlers outliving their clients)."""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from webtools import ALICE, Jmap

from e2e.conftest import run_server

BROWSER_FETCH = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}


def _status_headers(url: str, headers: dict[str, str], data: bytes | None = None
                    ) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def test_unauthenticated_browser_fetch_gets_no_basic_challenge(web_server) -> None:
    """A ``WWW-Authenticate: Basic`` answer to the app's ``fetch('/api/me')`` makes Chromium
    hold the request behind its native password dialog: the webmail stayed on "Loading…"
    forever (headless) or showed a browser password prompt instead of its login form. Scripts
    and non-browser clients keep the Basic challenge."""
    for path in ("/api/me", "/.well-known/jmap"):
        status, h = _status_headers(web_server.url(path), BROWSER_FETCH)
        assert status == 401
        assert "basic" not in h.get("WWW-Authenticate", "").lower(), (path, h)
        status, h = _status_headers(web_server.url(path), {})
        assert status == 401 and "Basic" in h.get("WWW-Authenticate", ""), (path, h)
    body = json.dumps({"username": ALICE[0], "password": "wrong"}).encode()
    status, h = _status_headers(web_server.url("/api/login"),
                                {**BROWSER_FETCH, "Content-Type": "application/json"}, body)
    assert status == 401 and "basic" not in h.get("WWW-Authenticate", "").lower(), h


def test_static_shell_headers(web_server) -> None:
    status, h = _status_headers(web_server.url("/"), {})
    assert status == 200 and h["Cache-Control"] == "no-cache"
    csp = h["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "unsafe-eval" not in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    _, h = _status_headers(web_server.url("/sw.js"), {})
    assert h["Content-Type"].startswith("text/javascript") and h["Cache-Control"] == "no-cache"
    _, h = _status_headers(web_server.url("/manifest.webmanifest"), {})
    assert h["Content-Type"].startswith("application/manifest+json")


def test_cookie_session_post_needs_csrf_token(web_server) -> None:
    body = json.dumps({"username": ALICE[0], "password": ALICE[1]}).encode()
    req = urllib.request.Request(web_server.url("/api/login"), data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        cookie = r.headers["Set-Cookie"]
        csrf = json.loads(r.read())["csrfToken"]
    assert "HttpOnly" in cookie and "SameSite=" in cookie
    jar = cookie.split(";", 1)[0]
    api = json.dumps({"using": ["urn:ietf:params:jmap:core"], "methodCalls": []}).encode()
    base = {"Cookie": jar, "Content-Type": "application/json"}
    assert _status_headers(web_server.url("/jmap/api"), base, api)[0] == 403
    assert _status_headers(web_server.url("/jmap/api"), {**base, "X-CSRF-Token": "x" * 32},
                           api)[0] == 403
    assert _status_headers(web_server.url("/jmap/api"), {**base, "X-CSRF-Token": csrf},
                           api)[0] == 200


def test_signature_of_builtin_identity_can_be_saved(web_server) -> None:
    alice = Jmap(web_server, *ALICE[:2])
    (_, got, _), = alice.call(("Identity/get", {"ids": None}))
    ident = got["list"][0]
    (_, res, _), = alice.call(("Identity/set", {"update": {ident["id"]: {
        "textSignature": "王小明\n蓉邮科技", "htmlSignature": ""}}}))
    assert not res.get("notUpdated"), res["notUpdated"]


def test_closed_eventsource_does_not_linger(tmp_path: Path) -> None:
    with run_server(tmp_path) as srv:
        srv.add_user(*ALICE)
        auth = "Basic " + base64.b64encode(f"{ALICE[0]}:{ALICE[1]}".encode()).decode()
        c = http.client.HTTPConnection("127.0.0.1", srv.ports["http"], timeout=10)
        c.request("GET", "/jmap/eventsource?types=*&closeafter=no&ping=300",
                  headers={"Authorization": auth})
        assert c.getresponse().status == 200
        c.close()
        time.sleep(0.5)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 5, "shutdown waited for a closed EventSource"
