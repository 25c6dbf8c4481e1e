"""The forced password change (issue 8, password rotation) through the real webmail UI.

A real ``rongmail serve`` with ``[security] password_max_age_days = 1`` and an account whose
``password_state`` row says the password was set two days ago (the clock of a subprocess cannot
be moved; the row is what rotation reads). Debian's chromium, driven by Playwright, signs in
through ``LoginView.vue``: the server answers ``passwordExpired`` with a ticket and the view
shows its new-password step; the current password is refused there (the server's localized
``password.reused`` message is shown and the step stays); a new password signs the user in and
lands in the inbox. Over IMAP (RFC 9051 §6.2.3 LOGIN) the old password then fails and the new
one works.

The test first checks that the built bundle (``src/rongmail/static/web``, built from
``web/src`` by ``make web`` / ``npm run build``) contains the new-password step, so a stale
bundle fails here instead of passing against old UI code.
"""

from __future__ import annotations

import imaplib
import json
import sqlite3
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webtools import ROOT, WEB_BUILD, new_page, shot, zh

from e2e.conftest import RunningServer, run_server
from peers import skip_or_fail

pytestmark = pytest.mark.browser

USER = ("rotate@corp.test", "Rotate-old-2026-xyz", "Rotate")
NEW_PASSWORD = "Rotate-new-2026-abc"
I18N = ROOT / "src" / "rongmail" / "i18n" / "zh-CN.json"


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    _bundle()
    env = {
        "RONGMAIL_SECURITY__PASSWORD_MAX_AGE_DAYS": "1",
        # no risk step-up at odd hours: this test is about rotation only
        "RONGMAIL_SECURITY__RISK__QUIET_HOURS": "[0, 0]",
    }
    tmp = tmp_path_factory.mktemp("pwchange")
    with run_server(tmp, wait_for=("http", "imaps"), extra_env=env) as srv:
        srv.add_user(*USER)
        with sqlite3.connect(srv.data_dir / "meta.sqlite3", timeout=30) as db:
            aged = db.execute(
                "UPDATE password_state SET changed_at = changed_at - ? WHERE account_id ="
                " (SELECT id FROM account WHERE address = ?)",
                (2 * 86400, USER[0]),
            ).rowcount
        assert aged == 1, "no password_state row for the new user"
        yield srv


def imap_login(srv: RunningServer, user: str, password: str) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=ctx, timeout=30) as c:
        try:
            c.login(user, password)
        except imaplib.IMAP4.error:
            return False
        return True


def _bundle() -> str:
    """The built webmail's scripts (skip locally, fail in CI, when it was never built)."""
    if not WEB_BUILD.exists():
        skip_or_fail(f"webmail not built ({WEB_BUILD} missing): run `make web`")
    return "".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in (WEB_BUILD.parent / "assets").glob("*.js")
    )


def test_bundle_has_the_new_password_step() -> None:
    bundle = _bundle()
    assert "login-new-password" in bundle and "/api/login/change-password" in bundle, (
        "the built webmail predates the forced password change: run `make web`"
    )


def test_expired_password_is_changed_in_the_webmail(
    rotating: RunningServer, browser: Any, artifacts: Path
) -> None:
    srv = rotating
    user, old, _ = USER
    assert not imap_login(srv, user, old)  # expired: the mail protocols refuse it already
    ctx, page = new_page(browser, {"viewport": {"width": 1280, "height": 800}})
    try:
        page.goto(srv.url("/"))
        page.wait_for_selector("[data-testid=login-username]")
        page.fill("[data-testid=login-username]", user)
        page.fill("[data-testid=login-password]", old)
        page.click("[data-testid=login-submit]")

        # the new-password step, no session yet
        page.wait_for_selector("[data-testid=login-password-expired]")
        assert page.locator("h1").inner_text() == zh("login.changeTitle")
        assert page.locator("[data-testid=login-password-expired]").inner_text() == zh(
            "login.passwordExpired"
        )
        assert page.locator("[data-testid=login-password]").count() == 0
        assert page.evaluate("fetch('/api/me').then(r => r.status)") == 401
        shot(page, artifacts, "password-change-step")

        # the current password is refused, with the server's message, and the step stays
        page.fill("[data-testid=login-new-password]", old)
        page.fill("[data-testid=login-confirm-password]", old)
        page.click("[data-testid=login-submit]")
        alert = page.locator(".form-error[role=alert]")
        alert.wait_for()
        reused = json.loads(I18N.read_text(encoding="utf-8"))["password.reused"]
        assert alert.inner_text() == reused
        assert page.locator("[data-testid=login-new-password]").is_visible()
        shot(page, artifacts, "password-change-refused")

        # a new password: signed in, in the inbox
        page.fill("[data-testid=login-new-password]", NEW_PASSWORD)
        page.fill("[data-testid=login-confirm-password]", NEW_PASSWORD)
        page.click("[data-testid=login-submit]")
        page.wait_for_selector(".list-pane .list-title")
        assert page.url.endswith("/mail/inbox"), page.url
        me = page.evaluate("fetch('/api/me').then(r => r.json())")
        assert me["username"] == user, me
        assert page.rm_errors == [], page.rm_errors
        shot(page, artifacts, "password-change-inbox")
    finally:
        ctx.close()

    # the old password is gone everywhere; the new one works over IMAP
    assert not imap_login(srv, user, old)
    assert imap_login(srv, user, NEW_PASSWORD)
