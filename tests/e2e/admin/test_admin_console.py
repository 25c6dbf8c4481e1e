"""The admin console in Debian's Chromium (Playwright), against the real server stack and a
real authoritative DNS server (Knot, TSIG-enabled, from ``tests/e2e/dns``):

a tenant admin signs in, creates a domain, sees the DNS plan with its explanations, creates
DKIM keys, sets RFC 2136 as the provider, previews the diff and pushes it, sees every check
pass; bulk-imports 50 users from an .xlsx file and sees the per-row report; then a helpdesk
user is refused the auditor's page. Screenshots go to ``test-artifacts/admin/``.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.peer,
              pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPO = Path(__file__).resolve().parents[3]
SHOTS = REPO / "test-artifacts" / "admin"
CHROMIUM = os.environ.get("RONGMAIL_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "Correct-Horse-9-Battery"


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
async def server(stack: Any) -> AsyncIterator[str]:
    from aiohttp.test_utils import TestServer

    from rongmail.actions import accounts as acc
    from rongmail.actions import admin as act
    from rongmail.protocols.http import admin, login, static_web
    from rongmail.protocols.http.server import HttpDeps, build_http_app, static_dir
    from rongmail.services.admin.roles import Role
    from rongmail.services.auth.authenticate import Authenticator

    if not (static_dir() / "admin.html").exists():
        pytest.skip("web assets not built: run `cd web && npm ci && npm run build`")
    ctx, reader = stack.ctx, stack.reader
    tenant = await acc.do_create_tenant(ctx, "corp", display_name="Corp")
    await acc.do_create_domain(ctx, tenant.id, "corp-hq.test")
    boss = await acc.do_create_account(ctx, "admin@corp-hq.test", PASSWORD)
    await act.do_set_admin_role(ctx, act.SYSTEM, boss, Role.TENANT_ADMIN)
    helper = await acc.do_create_account(ctx, "help@corp-hq.test", PASSWORD)
    await act.do_set_admin_role(ctx, act.SYSTEM, helper, Role.HELPDESK)
    deps = HttpDeps(settings=ctx.settings, ctx=ctx, reader=reader, auth=Authenticator(reader))
    app = build_http_app(deps, [login.register, static_web.register, admin.register])
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    try:
        yield str(srv.make_url("")).rstrip("/")
    finally:
        await srv.close()


def _xlsx(n: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["\u90ae\u7bb1", "\u59d3\u540d", "\u5bb9\u91cf"])  # the HR export's headers
    for i in range(n):
        ws.append([f"staff{i:02d}@corp.test", f"Staff {i:02d}", 1024])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def _login(page: Any, base: str, user: str) -> None:
    await page.goto(base + "/admin#/domains")
    await page.fill("[data-testid=login-username]", user)
    await page.fill("[data-testid=login-password]", PASSWORD)
    await page.click("[data-testid=login-submit]")
    await page.wait_for_selector("[data-testid=my-role]")


async def test_admin_console_flow(server: str, knot: Any, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    from e2e.dns.test_dns_wizard import KEY

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    srv = knot.server
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900},
                                          locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # 1. sign in and create the domain
            await _login(page, server, "admin@corp-hq.test")
            await page.fill("[data-testid=domain-name]", "corp.test")
            await page.click("[data-testid=domain-add]")
            await page.wait_for_selector("[data-testid=domain-row-corp\\.test]")
            await page.screenshot(path=str(SHOTS / "01-domains.png"), full_page=True)

            # 2. the DNS plan: mail host, DKIM keys, explanations
            await page.click("[data-testid=dns-corp\\.test]")
            await page.wait_for_selector("[data-testid=dns-plan] .plan-row")
            await page.fill("[data-testid=dns-host]", "mail.corp.test")
            await page.fill("[data-testid=dns-ipv4]", "127.0.0.1")
            await page.select_option("[data-testid=dns-dmarc]", "quarantine")
            await page.click("[data-testid=dns-save-settings]")
            await expect(page.locator("[data-testid=dns-msg]")).to_be_visible()
            keys = page.locator("[data-testid=dkim-key]")
            await page.click("[data-testid=dkim-rsa]")
            await expect(keys).to_have_count(1, timeout=20000)
            await page.click("[data-testid=dkim-ed]")
            await expect(keys).to_have_count(2, timeout=20000)
            await expect(keys.nth(1)).to_contain_text("ed25519")
            plan_text = await page.inner_text("[data-testid=dns-plan]")
            assert "_dmarc.corp.test." in plan_text and "_domainkey.corp.test." in plan_text
            assert "DMARC" in plan_text and "MX" in plan_text
            await page.screenshot(path=str(SHOTS / "02-dns-plan.png"), full_page=True)

            # 3. self-hosted DNS by RFC 2136: diff first, then apply
            await page.select_option("[data-testid=provider-kind]", "rfc2136")
            await page.fill("[data-testid=provider-server]", srv.address)
            await page.fill("[data-testid=provider-port]", str(srv.port))
            await page.fill("[data-testid=provider-keyname]", KEY)
            await page.fill("[data-testid=provider-secret]", knot.secret)
            await page.click("[data-testid=provider-save]")
            await expect(page.locator("[data-testid=push-preview]")).to_be_visible()
            await page.click("[data-testid=push-preview]")
            diff = page.locator("[data-testid=push-diff]")
            await expect(diff).to_contain_text("_dmarc.corp.test.")
            await page.screenshot(path=str(SHOTS / "03-dns-diff.png"), full_page=True)
            await page.click("[data-testid=push-apply]")
            await expect(page.locator("[data-testid=dns-msg]")).to_contain_text("\u63a8\u9001")
            await page.click("[data-testid=dns-check]")
            summary = page.locator("[data-testid=check-summary]")
            await expect(summary).to_have_class("ok", timeout=30000)
            assert await page.locator("[data-testid=check-ok]").count() >= 20
            assert await page.locator("[data-testid=check-missing]").count() == 0
            await page.screenshot(path=str(SHOTS / "04-dns-check.png"), full_page=True)

            # 4. bulk import of 50 users from .xlsx, with the per-row report
            xlsx = tmp_path / "staff.xlsx"
            xlsx.write_bytes(_xlsx(50))
            await page.click("[data-testid=nav-import]")
            await page.set_input_files("[data-testid=import-file]", str(xlsx))
            await page.click("[data-testid=import-submit]")
            report = page.locator("[data-testid=import-summary]")
            await expect(report).to_contain_text("50", timeout=120000)
            assert await page.locator("tr.import-created").count() == 50
            async with page.expect_download() as dl_info:
                await page.click("[data-testid=import-download]")
            csv_path = await (await dl_info.value).path()
            lines = Path(csv_path).read_text(encoding="utf-8-sig").splitlines()
            assert len(lines) == 51 and lines[1].startswith('2,"staff00@corp.test",created')
            await page.screenshot(path=str(SHOTS / "05-import.png"), full_page=True)
            await page.click("[data-testid=nav-users]")
            await expect(page.locator("tr.user-row", has_text="staff49@corp.test")).to_be_visible()

            # 5. the auditor's page: fine for the tenant admin, refused to helpdesk
            await page.click("[data-testid=nav-audit]")
            await expect(page.locator("[data-testid=audit-table]")).to_contain_text("dns.push")
            await page.click("[data-testid=sign-out]")
            await page.wait_for_selector("[data-testid=login-username]")
            await _login(page, server, "help@corp-hq.test")
            assert await page.locator("[data-testid=nav-audit]").count() == 0
            await page.goto(server + "/admin#/audit")
            await expect(page.locator("[data-testid=forbidden]")).to_be_visible()
            await page.screenshot(path=str(SHOTS / "06-helpdesk-refused.png"), full_page=True)
            assert errors == []
        finally:
            await browser.close()
