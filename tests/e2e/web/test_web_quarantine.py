"""Quarantine and phishing warnings in Chromium against a real ``rongmail serve`` (issue 9).

* The user (iPhone size, touch): a CEO-fraud mail (our executive's display name from outside,
  a password form) delivered over SMTP is held; in the webmail she opens Folders → 隔离区,
  sees it with its score and its reasons in words, previews it, releases it, and finds it in
  her Inbox, where the message view shows the phishing banner. Checked on the server through
  ``/api/quarantine`` and JMAP with Basic auth, never through the page.
* The admin (desktop): the admin console's quarantine lists the tenant's held mail, narrows
  it by mailbox, shows every tag with its weight and explanation, previews the text and the
  attachment list, releases one mail (the recipient gets it) and deletes another.
* A deceptive link (the text shows our webmail, the target is elsewhere) scores below the junk
  threshold, so it is delivered to the Inbox; its message view shows the banner; an ordinary
  mail shows none.
Screenshots go to ``test-artifacts/web/`` (``quarantine-*``).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webtools import (
    ALICE,
    BOB,
    DESKTOP,
    PHONE,
    WEB_BUILD,
    Jmap,
    deliver,
    login,
    new_page,
    plain_mail,
    row,
    shot,
    wait_js,
    zh,
)

from e2e.conftest import RunningServer, free_port, run_server
from peers import skip_or_fail
from protocol.quarantine.samples import exe_invoice, message
from unit.spam_integration.samples import phishing

pytestmark = pytest.mark.browser

BOSS = ("boss@corp.test", "Boss-pass-2026", "Wang Jianguo")
CAROL = ("carol@corp.test", "Carol-pass-2026", "Carol")
PHISH_SUBJECT = "Urgent: change of supplier bank account"
LINK_SUBJECT = "邮箱容量已满，请重新验证"
PLAIN_SUBJECT = "下周一例会改到三楼会议室"


def _link_mail(to: str) -> bytes:
    """A deceptive link only: phishing-tagged, but scored well below junk."""
    return message(
        "Mail Support <support@helpdesk-notice.example>",
        to,
        LINK_SUBJECT,
        "您的邮箱容量已满，请登录 https://mail.corp.test/login 重新验证。\n",
        html="<html><body><p>您的邮箱容量已满，请点击下面的链接重新验证：</p>"
        "<p><a href='http://verify.helpdesk-notice.example/login'>https://mail.corp.test/login</a>"
        "</p></body></html>",
    )


class Api:
    """``/api/quarantine`` with Basic auth: the server's view, independent of the UI."""

    def __init__(self, srv: RunningServer, user: str, password: str) -> None:
        self.srv = srv
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def items(self, query: str = "") -> list[dict[str, Any]]:
        req = urllib.request.Request(
            self.srv.url("/api/quarantine" + query), headers={"Authorization": self.auth}
        )
        with urllib.request.urlopen(req, timeout=20) as r:
            return list(json.loads(r.read())["items"])


@pytest.fixture(scope="module")
def qserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not WEB_BUILD.exists():
        skip_or_fail(f"webmail not built ({WEB_BUILD} missing): run `make web`")
    # DNS answers nothing quickly (a closed loopback port): mail authentication and DNSBL
    # lookups give temperror at once instead of waiting on the Internet.
    dns = {
        "RONGMAIL_QUEUE__DNS__NAMESERVERS": '["127.0.0.1"]',
        "RONGMAIL_QUEUE__DNS__PORT": str(free_port()),
        "RONGMAIL_QUEUE__DNS__TIMEOUT": "0.5",
    }
    with run_server(
        tmp_path_factory.mktemp("qsrv"), wait_for=("http", "smtp"), extra_env=dns
    ) as srv:
        srv.cli("user", "add", BOSS[0], "--password", BOSS[1], "--name", BOSS[2], "--role", "admin")
        for user, pw, name in (ALICE, BOB, CAROL):
            srv.add_user(user, pw, name)
        yield srv


def _wait_held(api: Api, pred: Any, query: str = "") -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        for item in api.items(query):
            if pred(item):
                return item
        if time.monotonic() > deadline:
            raise AssertionError(f"not held: {[i['subject'] for i in api.items(query)]}")
        time.sleep(0.25)


def _open_thread(page: Any, subject: str) -> Any:
    row(page, subject).first.click()
    page.wait_for_selector(".thread .msg")
    return page.locator(".thread .msg").last


def test_user_releases_from_quarantine_on_phone(
    browser: Any, qserver: RunningServer, artifacts: Path
) -> None:
    srv = qserver
    deliver(srv, phishing(to=ALICE[0]), sender="ceo.office@gmail-secure.example")
    mine = Api(srv, *ALICE[:2])
    held = _wait_held(mine, lambda i: i["subject"].startswith(PHISH_SUBJECT))
    assert "IMPERSONATE_EXECUTIVE" in {t["name"] for t in held["tags"]}
    alice = Jmap(srv, *ALICE[:2])
    assert not [e for e in alice.emails() if e["subject"].startswith(PHISH_SUBJECT)]

    ctx, page = new_page(browser, PHONE)
    try:
        login(page, srv)
        # phone: bottom nav → Folders → Quarantine
        page.locator(".bottom-nav .bn-item", has_text=zh("nav.folders")).click()
        page.click("[data-testid=nav-quarantine]")
        page.wait_for_selector("[data-testid=quarantine-title]")
        assert page.locator("[data-testid=quarantine-title]").inner_text() == zh("quarantine.title")
        item = page.locator("[data-testid=q-row]", has_text=PHISH_SUBJECT)
        item.wait_for()
        # the list explains why in words, with the score
        text = item.inner_text()
        assert zh("spamTag.IMPERSONATE_EXECUTIVE") in text, text
        assert f"{held['score']:.1f}" in text, text
        shot(page, artifacts, "quarantine-phone-list")

        item.click()
        detail = page.locator("[data-testid=q-detail]")
        detail.wait_for()
        reason = detail.locator("[data-testid=q-reason][data-tag=IMPERSONATE_EXECUTIVE]")
        assert zh("spamTag.IMPERSONATE_EXECUTIVE") in reason.inner_text()
        assert "+" in reason.inner_text()
        form = detail.locator("[data-testid=q-reason][data-tag=HTML_CREDENTIAL_FORM]")
        assert zh("spamTag.HTML_CREDENTIAL_FORM") in form.inner_text()
        # the preview is plain text from the server: the body's words, no live link or form
        preview = detail.locator("[data-testid=q-text]")
        preview.wait_for()
        assert "请今天付款前把供应商的收款账户改为新账户" in preview.inner_text()
        assert detail.locator("a[href*='acme-c0rp'], form, input[type=password]").count() == 0
        assert page.locator("[data-testid=q-malware]").count() == 0
        shot(page, artifacts, "quarantine-phone-detail")

        # release → the list is empty again, the server delivered it and recorded the decision
        page.click("[data-testid=q-release]")
        page.wait_for_selector("[data-testid=quarantine-empty]")
        shot(page, artifacts, "quarantine-phone-released", toasts=True)
        assert mine.items() == []
        [done] = mine.items("?status=released")
        assert done["id"] == held["id"]
        alice.wait_for(
            lambda e: e["subject"].startswith(PHISH_SUBJECT),
            flt={"inMailbox": alice.mailboxes()["inbox"]["id"]},
        )

        # the toast leads to the Inbox, where the mail now is (pushed, no reload)
        page.locator(".toast .toast-action", has_text=zh("quarantine.openInbox")).click()
        page.wait_for_selector(".list-pane .list-title")
        row(page, PHISH_SUBJECT).wait_for(timeout=10_000)
        msg = _open_thread(page, PHISH_SUBJECT)
        banner = msg.locator("[data-testid=phishing-banner]")
        banner.wait_for()
        assert zh("message.phishingTitle") in banner.inner_text()
        assert zh("spamTag.IMPERSONATE_EXECUTIVE") in banner.inner_text()
        shot(page, artifacts, "quarantine-phone-banner")
        assert page.rm_errors == []
    finally:
        ctx.close()


def test_admin_console_quarantine(browser: Any, qserver: RunningServer, artifacts: Path) -> None:
    srv = qserver
    deliver(srv, exe_invoice(BOB[0], "Invoice for Bob"), rcpt=BOB[0])
    deliver(srv, exe_invoice(CAROL[0], "Invoice for Carol"), rcpt=CAROL[0])
    admin = Api(srv, srv.admin, srv.password)
    bob_item = _wait_held(admin, lambda i: i["subject"] == "Invoice for Bob", "?scope=tenant")
    carol_item = _wait_held(admin, lambda i: i["subject"] == "Invoice for Carol", "?scope=tenant")
    assert bob_item["account"] == BOB[0]

    ctx, page = new_page(browser, DESKTOP)
    try:
        page.goto(srv.url("/admin#/quarantine"))
        page.fill("[data-testid=login-username]", srv.admin)
        page.fill("[data-testid=login-password]", srv.password)
        page.click("[data-testid=login-submit]")
        page.wait_for_selector("[data-testid=nav-quarantine]")
        table = page.locator("[data-testid=q-table]")
        table.locator(".q-item", has_text="Invoice for Carol").wait_for()
        assert table.locator(".q-item", has_text="Invoice for Bob").count() == 1

        # filter by mailbox: only Bob's row
        page.fill("[data-testid=q-filter-rcpt]", BOB[0])
        page.click("[data-testid=q-filter-apply]")
        wait_js(
            page,
            "document.querySelectorAll('[data-testid=q-table] .q-item').length === 1"
            " && !document.querySelector('[data-testid=q-table]').innerText"
            ".includes('Invoice for Carol')",
        )
        bob_row = table.locator(".q-item", has_text="Invoice for Bob")
        assert BOB[0] in bob_row.inner_text()
        # each tag with its weight and the server's explanation (zh-CN console)
        for tag in bob_item["tags"]:
            cell = bob_row.locator(f"li[data-tag={tag['name']}]")
            got = cell.inner_text()
            assert tag["name"] in got and f"{tag['score']:.1f}" in got, got
            assert tag["reason_zh"] in got, got
        assert bob_row.locator("[data-testid=q-malware]").count() == 1
        bob_row.locator("[data-testid=q-preview]").click()
        body = page.locator("[data-testid=q-preview-body]")
        body.wait_for()
        assert "invoice.pdf.exe" in body.inner_text()
        assert "Please see the attached invoice." in body.inner_text()
        shot(page, artifacts, "quarantine-admin")

        # release Bob's: he gets it; the row leaves the held list
        bob_row.locator("[data-testid=q-release]").click()
        page.locator("[data-testid=q-msg]").wait_for()
        bob = Jmap(srv, *BOB[:2])
        got = bob.wait_for(
            lambda e: e["subject"] == "Invoice for Bob",
            flt={"inMailbox": bob.mailboxes()["inbox"]["id"]},
        )
        assert got["hasAttachment"]

        # filter by tag: the release left only Carol's exe mail carrying it; delete it
        page.fill("[data-testid=q-filter-rcpt]", "")
        page.fill("[data-testid=q-filter-tag]", "ATTACH_DOUBLE_EXT")
        page.click("[data-testid=q-filter-apply]")
        carol_row = table.locator(".q-item", has_text="Invoice for Carol")
        carol_row.wait_for()
        wait_js(page, "document.querySelectorAll('[data-testid=q-table] .q-item').length === 1")
        carol_row.locator("[data-testid=q-delete]").click()
        carol_row.locator("[data-testid=q-delete-confirm]").click()
        page.locator("[data-testid=q-empty]").wait_for()
        assert page.rm_errors == []
    finally:
        ctx.close()
    assert [i["id"] for i in admin.items("?scope=tenant&status=deleted")] == [carol_item["id"]]
    released = admin.items("?scope=tenant&status=released")
    assert bob_item["id"] in {i["id"] for i in released}
    carol = Jmap(srv, *CAROL[:2])
    assert not [e for e in carol.emails() if e["subject"] == "Invoice for Carol"]


def test_phishing_banner_in_inbox(browser: Any, qserver: RunningServer, artifacts: Path) -> None:
    srv = qserver
    deliver(
        srv,
        plain_mail(
            PLAIN_SUBJECT, "例会时间不变，地点改到三楼。", to=ALICE[0], frm="Bob <bob@corp.test>"
        ),
    )
    deliver(srv, _link_mail(ALICE[0]), sender="support@helpdesk-notice.example")
    alice = Jmap(srv, *ALICE[:2])
    inbox = alice.mailboxes()["inbox"]["id"]
    alice.wait_for(lambda e: e["subject"] == LINK_SUBJECT, flt={"inMailbox": inbox})
    # the server tagged it (the verdict header the banner reads), yet delivered it
    [res] = alice.call(
        ("Email/query", {"filter": {"inMailbox": inbox, "text": "容量"}}),
    )
    [got] = alice.call(
        ("Email/get", {"ids": res[1]["ids"], "properties": ["header:X-RongMail-Spam:asText:all"]}),
    )
    header = got[1]["list"][0]["header:X-RongMail-Spam:asText:all"][0]
    assert header.startswith("deliver;") and "LINK_TEXT_MISMATCH(" in header, header

    ctx, page = new_page(browser, DESKTOP)
    try:
        login(page, srv)
        row(page, LINK_SUBJECT).wait_for()
        msg = _open_thread(page, LINK_SUBJECT)
        banner = msg.locator("[data-testid=phishing-banner]")
        banner.wait_for()
        assert banner.get_attribute("role") == "alert"
        assert zh("spamTag.LINK_TEXT_MISMATCH") in banner.inner_text()
        shot(page, artifacts, "quarantine-banner-desktop")
        # control: an ordinary mail has no banner
        msg = _open_thread(page, PLAIN_SUBJECT)
        page.wait_for_selector(f".thread-subject:has-text('{PLAIN_SUBJECT}')")
        msg.locator(".msg-head").first.wait_for()
        assert page.locator("[data-testid=phishing-banner]").count() == 0
        assert page.rm_errors == []
    finally:
        ctx.close()
