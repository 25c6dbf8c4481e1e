"""Helpers and fixtures for the webmail browser tests: a real ``rongmail serve`` driven by
Playwright and Debian's chromium.

* One server per test module (``web_server``), with two users: 王小明 <alice@corp.test> and
  Bob <bob@corp.test>. Mail is delivered over SMTP (``deliver``); server-side state is checked
  over JMAP with Basic auth (``Jmap``), never through the page under test.
* The browser is Debian's ``/usr/bin/chromium`` (never a Playwright download). Missing chromium,
  Playwright or built web assets → skip locally, fail in CI (``tests/peers.skip_or_fail``).
* Service workers are blocked in test contexts so that every request the page makes goes
  through Playwright routing (the XSS test counts them).
* Screenshots go to ``test-artifacts/web/`` (gitignored; CI uploads it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import smtplib
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import RunningServer, run_server
from peers import skip_or_fail

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "web"
WEB_BUILD = ROOT / "src" / "rongmail" / "static" / "web" / "index.html"
LOCALES = ROOT / "web" / "src" / "i18n" / "locales"
CHROMIUM = os.environ.get("RONGMAIL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOMAIN = "corp.test"
ALICE = ("alice@corp.test", "Alice-pass-2026", "王小明")
BOB = ("bob@corp.test", "Bob-pass-2026", "Bob")
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    ),
}


def zh(key: str) -> str:
    """A zh-CN UI string from the webmail's own catalogue (``"action.reply"`` → 回复), so the
    tests do not hard-code labels that the translators may change."""
    node: Any = json.loads((LOCALES / "zh-CN.json").read_text(encoding="utf-8"))
    for part in key.split("."):
        node = node[part]
    return str(node)


# ----------------------------------------------------------------------------- server side


class Jmap:
    """A minimal JMAP client with Basic auth: checks server state independently of the UI."""

    def __init__(self, srv: RunningServer, user: str, password: str) -> None:
        self.srv = srv
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._session: dict[str, Any] | None = None

    def _req(self, url: str, body: bytes | None = None, ctype: str = "application/json") -> bytes:
        req = urllib.request.Request(url, data=body, headers={"Authorization": self.auth})
        if body is not None:
            req.add_header("Content-Type", ctype)
        with urllib.request.urlopen(req, timeout=20) as r:
            return bytes(r.read())

    @property
    def session(self) -> dict[str, Any]:
        if self._session is None:
            self._session = json.loads(self._req(self.srv.url("/.well-known/jmap")))
        return self._session

    @property
    def account(self) -> str:
        return str(self.session["primaryAccounts"]["urn:ietf:params:jmap:mail"])

    def call(self, *calls: tuple[str, dict[str, Any]]) -> list[list[Any]]:
        body = {
            "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail",
                      "urn:ietf:params:jmap:submission"],
            "methodCalls": [
                [name, {"accountId": self.account, **args}, f"c{i}"]
                for i, (name, args) in enumerate(calls)
            ],
        }
        out = json.loads(self._req(self.session["apiUrl"], json.dumps(body).encode()))
        return list(out["methodResponses"])

    def emails(self, flt: dict[str, Any] | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Emails (newest first) matching ``flt`` with the properties the tests look at."""
        res = self.call(
            (
                "Email/query",
                {"filter": flt or {}, "sort": [{"property": "receivedAt", "isAscending": False}],
                 "limit": limit},
            ),
            (
                "Email/get",
                {"#ids": {"resultOf": "c0", "name": "Email/query", "path": "/ids"},
                 "properties": ["id", "threadId", "mailboxIds", "subject", "from", "to",
                                "keywords", "hasAttachment", "attachments", "preview"]},
            ),
        )
        assert res[0][0] == "Email/query", res[0]
        assert res[1][0] == "Email/get", res[1]
        return list(res[1][1]["list"])

    def mailboxes(self) -> dict[str, dict[str, Any]]:
        """role (or name) → Mailbox object."""
        res = self.call(("Mailbox/get", {"ids": None}))
        assert res[0][0] == "Mailbox/get", res[0]
        return {m.get("role") or m["name"]: m for m in res[0][1]["list"]}

    def download(self, blob_id: str) -> bytes:
        url = self.session["downloadUrl"]
        for k, v in {"accountId": self.account, "blobId": blob_id, "name": "f",
                     "type": "application/octet-stream"}.items():
            url = url.replace("{" + k + "}", v)
        return self._req(url)

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], flt: dict[str, Any] | None = None,
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        """Poll (bounded) until an email matching ``pred`` exists; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.emails(flt):
                if pred(e):
                    return e
            if time.monotonic() > deadline:
                subjects = [e.get("subject") for e in self.emails(flt)]
                raise AssertionError(f"no matching email within {timeout}s; have {subjects}")
            time.sleep(0.25)


def deliver(srv: RunningServer, raw: bytes | str, rcpt: str = ALICE[0],
            sender: str = "sender@example.net") -> None:
    """Inbound SMTP delivery to the MX listener (like a remote server would)."""
    data = raw.encode() if isinstance(raw, str) else raw
    data = re.sub(rb"\r?\n", b"\r\n", data)  # SMTP wants CRLF; corpus files are LF
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, [rcpt], data)


def plain_mail(subject: str, body: str, *, frm: str = "Bob <bob@corp.test>",
               to: str = ALICE[0], extra: str = "") -> bytes:
    from email.header import Header
    from email.utils import formatdate, make_msgid

    subj = Header(subject, "utf-8").encode()
    head = (f"From: {frm}\r\nTo: {to}\r\nSubject: {subj}\r\nDate: {formatdate()}\r\n"
            f"Message-ID: {make_msgid(domain='example.net')}\r\nMIME-Version: 1.0\r\n{extra}"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    return head.encode() + base64.encodebytes(body.encode())


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not WEB_BUILD.exists():
        skip_or_fail(f"webmail not built ({WEB_BUILD} missing): run `make web`")
    with run_server(tmp_path_factory.mktemp("websrv"), wait_for=("http", "smtp")) as srv:
        for user, pw, name in (ALICE, BOB):
            srv.add_user(user, pw, name)
        yield srv


# ----------------------------------------------------------------------------- browser side


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API runs an event loop on the main thread while it is
    open, which would break every asyncio test collected after it; it must close with the
    module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("the playwright Python package is not installed")
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} missing: apt-get install -y chromium fonts-wqy-microhei")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure is "unavailable"
            skip_or_fail(f"chromium does not start: {exc}")
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def new_page(browser: Any, device: dict[str, Any], **kw: Any) -> tuple[Any, Any]:
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                              service_workers="block", **device, **kw)
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: _check_response(r, errors))
    page.rm_errors = errors  # type: ignore[attr-defined]
    return ctx, page


def _check_response(resp: Any, errors: list[str]) -> None:
    """Server errors and JMAP method-level errors the webmail received (a method the app needs
    that is missing or rejects the app's arguments shows up here, not as an HTTP error)."""
    url = resp.url
    if "127.0.0.1" not in url:
        return
    if resp.status >= 500:
        errors.append(f"HTTP {resp.status} {resp.request.method} {url}")
    if url.endswith("/jmap/api") and resp.status == 200:
        try:
            out = json.loads(resp.body())
            sent = json.loads(resp.request.post_data or "{}")
        except Exception:  # noqa: BLE001 - aborted or non-JSON: not a method error
            return
        calls = {c[2]: c for c in sent.get("methodCalls", [])}
        for name, args, cid in out.get("methodResponses", []):
            if name == "error":
                req = calls.get(cid, ["?", {}])
                errors.append(f"JMAP {req[0]} → {args} (request args: "
                              f"{json.dumps(req[1], ensure_ascii=False)[:400]})")


def login(page: Any, srv: RunningServer, user: tuple[str, str, str] = ALICE) -> None:
    page.goto(srv.url("/"))
    try:
        page.wait_for_selector("[data-testid=login-username]")
    except Exception as exc:
        raise AssertionError(
            f"no login form; page shows {page.locator('body').inner_text()[:200]!r}, "
            f"errors {page.rm_errors}") from exc
    page.fill("[data-testid=login-username]", user[0])
    page.fill("[data-testid=login-password]", user[1])
    page.click("[data-testid=login-submit]")
    page.wait_for_selector(".list-pane .list-title")


def row(page: Any, text: str) -> Any:
    return page.locator(".list-slot .row", has_text=text)


def touch_swipe(page: Any, locator: Any, dx: float, steps: int = 8) -> list[str]:
    """A real touch swipe (CDP touch events → pointer events with pointerType "touch").

    The touch starts only once the row has stopped moving (two bounding boxes a frame apart
    agree) and the point is on the row itself (``elementFromPoint``), so a list still being laid
    out or a toast over the row cannot send the swipe elsewhere. Returns the pointer events the
    page saw (type, the row's subject, x), for the caller's failure message."""
    x0 = y = 0.0
    for _ in range(40):
        box = locator.bounding_box()
        page.wait_for_timeout(50)
        again = locator.bounding_box()
        if box and box == again:
            x0 = box["x"] + box["width"] * (0.75 if dx < 0 else 0.25)
            y = box["y"] + box["height"] / 2
            if locator.evaluate("(el, [x, y]) => el.contains(document.elementFromPoint(x, y))",
                                [x0, y]):
                break
    else:
        raise AssertionError(f"row never still and uncovered; last box {box}, then {again}")
    page.evaluate("""() => {
        window.__rmPointer = []
        if (window.__rmPointerOn) return
        window.__rmPointerOn = 1
        for (const t of ['pointerdown', 'pointermove', 'pointerup', 'pointercancel'])
            document.addEventListener(t, (e) => {
                const r = e.target.closest && e.target.closest('.row')
                const s = r && r.querySelector('.subject')
                window.__rmPointer.push(`${t} ${s ? s.textContent : e.target.className} ${e.clientX}`)
            }, {capture: true})
    }""")
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]})
        for i in range(1, steps + 1):
            cdp.send("Input.dispatchTouchEvent",
                     {"type": "touchMove", "touchPoints": [{"x": x0 + dx * i / steps, "y": y}]})
            page.wait_for_timeout(16)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()
    return list(page.evaluate("window.__rmPointer"))


def toasts(page: Any) -> list[str]:
    """The texts of the toasts on screen (errors show up here)."""
    return list(page.locator(".toast").all_inner_texts())


def shot(page: Any, artifacts: Path, name: str, *, toasts: bool = False) -> Path:
    """Screenshot into test-artifacts/web (and, with RONGMAIL_SCREENSHOTS=1, into
    docs/screenshots for the README). Toasts left over from earlier steps are hidden unless
    ``toasts`` (they would cover the screen being shown)."""
    page.wait_for_timeout(150)  # let transitions settle
    if not toasts:
        page.evaluate("document.querySelectorAll('.toast').forEach(t => t.style.display = 'none')")
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("RONGMAIL_SCREENSHOTS") and not name.startswith("xss-"):
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        docs.joinpath(f"{name}.png").write_bytes(path.read_bytes())
    if not toasts:
        page.evaluate("document.querySelectorAll('.toast').forEach(t => t.style.display = '')")
    return path


def wait_js(page: Any, expr: str, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll a JS expression until truthy (bounded). ``page.wait_for_function`` evaluates its
    predicate with ``eval``, which the webmail's CSP (no 'unsafe-eval') rightly refuses;
    ``page.evaluate`` goes through the DevTools protocol and is not subject to it."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expr)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {expr}")
        page.wait_for_timeout(interval * 1000)
