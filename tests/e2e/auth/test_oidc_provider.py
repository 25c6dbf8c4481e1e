"""OpenID Connect sign-in against a real OpenID Provider (the npm package ``oidc-provider``,
panva), started by the test with Node.js; the browser is simulated with httpx (cookies, form
posts, redirects), the provider's own development login and consent pages are used.

Checks: a first sign-in links the provider subject to the account with the same *verified*
e-mail and opens a web session; the session works; SSO never creates accounts; an unverified
e-mail is refused; a callback replayed in another browser (no binding cookie) is refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.conftest import RunningServer, free_port, run_server
from peers import cache_lock

pytestmark = pytest.mark.peer
HERE = Path(__file__).parent / "oidc_provider"
SECRET = "rongmail-oidc-test-secret-0123456789"


def _provider_dir() -> Path:
    """oidc-provider installed once per machine from the npm registry (package.json pins it)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        from peers import skip_or_fail
        from peers.apt import PeerUnavailable, ensure

        try:
            ensure(["nodejs", "npm"])
        except PeerUnavailable as exc:
            skip_or_fail(str(exc))
    spec = json.loads((HERE / "package.json").read_text())["dependencies"]["oidc-provider"]
    cache = Path(os.environ.get("RONGMAIL_TEST_CACHE", "/tmp/rongmail-test-cache"))
    target = cache / f"oidc-provider-{spec}"
    with cache_lock(cache / f"oidc-provider-{spec}.lock"):  # parallel workers share the cache
        if not (target / "node_modules" / "oidc-provider").is_dir():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(HERE / "package.json", target / "package.json")
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=target,
                           check=True, timeout=300, capture_output=True)
        script = (HERE / "provider.mjs").read_bytes()
        dest = target / "provider.mjs"
        if not dest.is_file() or dest.read_bytes() != script:
            # never rewrite the file in place: another worker's provider may be loading it
            (target / "provider.mjs.tmp").write_bytes(script)
            os.replace(target / "provider.mjs.tmp", dest)
    return target


@pytest.fixture
def oidc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RunningServer, int]]:
    where = _provider_dir()
    op_port, http_port = free_port(), free_port()
    callback = f"http://127.0.0.1:{http_port}/api/oidc/callback"
    log = open(tmp_path / "op.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(["node", "provider.mjs", str(op_port), callback, SECRET], cwd=where,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    import httpx

    while True:
        try:
            httpx.get(f"http://127.0.0.1:{op_port}/.well-known/openid-configuration", timeout=2)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("oidc-provider did not start: "
                            + (tmp_path / "op.log").read_text()[-2000:])
            time.sleep(0.2)
    env = {"ENABLED": "true", "ISSUER": f"http://127.0.0.1:{op_port}", "CLIENT_ID": "rongmail",
           "CLIENT_SECRET": SECRET, "REDIRECT_URI": callback}
    for k, v in env.items():
        monkeypatch.setenv(f"RONGMAIL_SECURITY__OIDC__{k}", v)
    try:
        with run_server(tmp_path, wait_for=("imaps",),
                        extra_env={"RONGMAIL_LISTENERS__HTTP": f"127.0.0.1:{http_port}"}) as srv:
            _wait(http_port)
            yield srv, http_port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait(port: int) -> None:
    import httpx

    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)


def _form(html: str) -> tuple[str, dict[str, str]] | None:
    """The first form's action and its named inputs (hidden fields such as ``prompt``)."""
    m = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', html or "", re.S)
    if m is None:
        return None
    fields = {}
    for tag in re.findall(r"<input[^>]*>", m.group(2)):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else ""
    return m.group(1), fields


def _sso(http_port: int, login: str) -> tuple[object, object]:
    """A browser signing in at the provider as ``login``; returns (client, last response)."""
    import httpx

    c = httpx.Client(follow_redirects=True, timeout=30)
    r = c.get(f"http://127.0.0.1:{http_port}/api/oidc/login")
    for _ in range(6):  # the provider's login form, then its consent form
        form = _form(r.text)
        if form is None or "/interaction/" not in str(r.url):
            break
        fields = form[1]
        if "login" in fields:
            fields.update(login=login, password="any")
        r = c.post(httpx.URL(str(r.url)).join(form[0]), data=fields)
    return c, r


def test_oidc_sign_in_links_by_verified_email(oidc: tuple[RunningServer, int]) -> None:
    srv, http_port = oidc
    srv.add_user("li@corp.test", "Li-pass-2026-x")
    c, r = _sso(http_port, "li@corp.test")
    assert "rongmail_session" in c.cookies, (r.status_code, r.text[:300])  # type: ignore[attr-defined]
    me = c.get(f"http://127.0.0.1:{http_port}/api/me")  # type: ignore[attr-defined]
    assert me.status_code == 200 and me.json()["username"] == "li@corp.test"
    # second sign-in uses the link (subject), not the e-mail
    c2, _ = _sso(http_port, "li@corp.test")
    assert "rongmail_session" in c2.cookies  # type: ignore[attr-defined]
    audit = srv.cli("audit", "list", "--account", "li@corp.test").stdout
    assert "identity.linked" in audit and '\\"method\\":\\"oidc\\"' in audit \
        or '"method":"oidc"' in audit.replace('\\"', '"')
    assert srv.cli("audit", "verify").returncode == 0


def test_oidc_refusals(oidc: tuple[RunningServer, int]) -> None:
    srv, http_port = oidc
    _, r = _sso(http_port, "nobody@corp.test")  # no such account: SSO never creates one
    assert r.status_code == 401  # type: ignore[attr-defined]
    srv.add_user("unverified@corp.test", "Unv-pass-2026-x")
    _, r = _sso(http_port, "unverified@corp.test")
    assert r.status_code == 401  # type: ignore[attr-defined]
    # a callback URL carried to another browser (no binding cookie) is refused
    import httpx

    srv.add_user("wu@corp.test", "Wu-pass-2026-x")
    c = httpx.Client(follow_redirects=False, timeout=30)
    r = c.get(f"http://127.0.0.1:{http_port}/api/oidc/login")
    r = c.get(r.headers["location"])
    hops = 0
    while r.status_code in (302, 303) and hops < 10:
        loc = httpx.URL(str(r.request.url)).join(r.headers["location"])
        if "/api/oidc/callback" in str(loc):
            stolen = str(loc)
            break
        r = c.get(loc)
        form = _form(r.text)
        if form is not None:
            fields = form[1]
            if "login" in fields:
                fields.update(login="wu@corp.test", password="x")
            r = c.post(httpx.URL(str(r.request.url)).join(form[0]), data=fields)
        hops += 1
    else:
        pytest.fail("no callback redirect")
    other = httpx.Client(timeout=30)
    assert other.get(stolen).status_code == 401
