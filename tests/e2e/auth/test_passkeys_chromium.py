"""Passkeys end to end: Debian's chromium (driven by Playwright over CDP) with a WebAuthn
virtual authenticator (CTAP2, internal, resident keys, user verification) registers a passkey
on a signed-in session, signs out, and signs in again with the passkey instead of the password.
The server verifies with py ``webauthn`` (WebAuthn L2). The sign-in names the account (its
credentials are listed in ``allowCredentials``): headless Chromium shows an account chooser for
discoverable-only requests that the virtual authenticator cannot answer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.conftest import RunningServer, free_port, run_server
from peers import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.peer]
CHROMIUM = os.environ.get("RONGMAIL_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--host-resolver-rules=MAP localhost 127.0.0.1"]

JS_CODEC = """
window.dec = (s) => { s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '='; return Uint8Array.from(atob(s), c => c.charCodeAt(0)).buffer; };
window.enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
  .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
"""

JS_REGISTER = """async ([user, pw]) => {
  let r = await fetch('/api/login', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({username: user, password: pw})});
  const csrf = (await r.json()).csrfToken;
  r = await fetch('/api/security/passkeys/register/begin', {method: 'POST',
    headers: {'X-CSRF-Token': csrf}});
  const o = await r.json();
  o.challenge = dec(o.challenge); o.user.id = dec(o.user.id);
  o.excludeCredentials = (o.excludeCredentials || []).map(c => ({...c, id: dec(c.id)}));
  const c = await navigator.credentials.create({publicKey: o});
  const credential = {id: c.id, rawId: enc(c.rawId), type: c.type,
    authenticatorAttachment: c.authenticatorAttachment,
    clientExtensionResults: c.getClientExtensionResults(),
    response: {clientDataJSON: enc(c.response.clientDataJSON),
               attestationObject: enc(c.response.attestationObject),
               transports: c.response.getTransports()}};
  r = await fetch('/api/security/passkeys/register/finish', {method: 'POST',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
    body: JSON.stringify({name: 'Laptop', credential})});
  const added = [r.status, await r.json()];
  const list = await (await fetch('/api/security/passkeys')).json();
  await fetch('/api/logout', {method: 'POST', headers: {'X-CSRF-Token': csrf}});
  return {added, list, after: (await fetch('/api/me')).status};
}"""

JS_SIGN_IN = """async (user) => {
  let r = await fetch('/api/login/passkey/begin', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({username: user})});
  const {ticket, options: o} = await r.json();
  o.challenge = dec(o.challenge);
  o.allowCredentials = (o.allowCredentials || []).map(c => ({...c, id: dec(c.id)}));
  const a = await navigator.credentials.get({publicKey: o});
  const credential = {id: a.id, rawId: enc(a.rawId), type: a.type,
    authenticatorAttachment: a.authenticatorAttachment,
    clientExtensionResults: a.getClientExtensionResults(),
    response: {clientDataJSON: enc(a.response.clientDataJSON),
               authenticatorData: enc(a.response.authenticatorData),
               signature: enc(a.response.signature),
               userHandle: a.response.userHandle ? enc(a.response.userHandle) : null}};
  r = await fetch('/api/login/passkey/finish', {method: 'POST',
    headers: {'Content-Type': 'application/json'}, body: JSON.stringify({ticket, credential})});
  const body = await r.json();
  return {status: r.status, body, me: (await (await fetch('/api/me')).json()),
          replay: JSON.stringify({ticket, credential})};
}"""


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[RunningServer, int]]:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright (python) is not installed")
    port = free_port()
    monkeypatch.setenv("RONGMAIL_SECURITY__WEBAUTHN_RP_ID", "localhost")
    monkeypatch.setenv("RONGMAIL_SECURITY__WEBAUTHN_ORIGINS", json.dumps([f"http://localhost:{port}"]))
    with run_server(tmp_path, wait_for=("imaps",),
                    extra_env={"RONGMAIL_LISTENERS__HTTP": f"127.0.0.1:{port}"}) as srv:
        srv.add_user("li@corp.test", "Li-pass-2026-x", "Li Lei")
        yield srv, port


def test_passkey_register_and_sign_in(server: tuple[RunningServer, int]) -> None:
    from playwright.sync_api import sync_playwright

    srv, port = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable", {"enableUI": False})
            auth = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True,
                "automaticPresenceSimulation": True}})
            page.goto(f"http://localhost:{port}/healthz")
            page.evaluate(JS_CODEC)
            reg = page.evaluate(JS_REGISTER, ["li@corp.test", "Li-pass-2026-x"])
            assert reg["added"][0] == 201, reg
            assert [p["name"] for p in reg["list"]] == ["Laptop"]
            assert reg["after"] == 401
            creds = cdp.send("WebAuthn.getCredentials",
                             {"authenticatorId": auth["authenticatorId"]})["credentials"]
            assert len(creds) == 1 and creds[0]["isResidentCredential"]

            res = page.evaluate(JS_SIGN_IN, "li@corp.test")
            assert res["status"] == 200, res
            assert res["me"]["username"] == "li@corp.test"
            # replaying the same assertion fails (single-use challenge), without a Basic
            # challenge that would open the browser's password dialog
            import httpx

            replay = httpx.post(f"http://127.0.0.1:{port}/api/login/passkey/finish",
                                content=res["replay"],
                                headers={"Content-Type": "application/json"}, timeout=30)
            assert replay.status_code == 401 and "www-authenticate" not in replay.headers
        finally:
            browser.close()
    audit = srv.cli("audit", "list", "--account", "li@corp.test").stdout
    assert "passkey.added" in audit and "passkey" in audit
    assert srv.cli("audit", "verify").returncode == 0
