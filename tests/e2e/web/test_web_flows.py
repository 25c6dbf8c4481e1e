"""The webmail against a real ``rongmail serve`` in Chromium, at desktop (1280×800) and iPhone
(390×844, touch) sizes (issue 6):

log in → a mail delivered by SMTP appears without a reload (JMAP push) → open it → reply, and the
reply arrives in Bob's mailbox (checked over JMAP as Bob) → compose with an attachment chosen
through the file input, and Bob receives the same bytes → search 发票 finds exactly the mails
that contain the word → (phone) swipe a row left to archive it, and the server moved it;
swipe another right to mark it read.
Screenshots of every screen go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from webtools import (
    ALICE,
    BOB,
    DESKTOP,
    PHONE,
    Jmap,
    deliver,
    login,
    new_page,
    plain_mail,
    row,
    shot,
    toasts,
    touch_swipe,
    wait_js,
    zh,
)

from e2e.conftest import RunningServer

pytestmark = pytest.mark.browser

# A realistic inbox for the screenshots (sender, subject, body), oldest first.
BACKGROUND = [
    ("张伟 <zhang.wei@partner.example>", "周五团队建设活动安排", "大家好，本周五下午三点在锦江宾馆集合，请准时参加。"),
    ("IT 服务台 <it@corp.test>", "【通知】邮件系统升级完成", "蓉邮已经升级，支持手机端滑动归档和离线阅读。"),
    ("李娜 <li.na@corp.test>", "Q3 市场分析报告（终稿）", "附件是第三季度市场分析报告终稿，请在周三前反馈意见。"),
    ("Chen Jie <jie.chen@supplier.example>", "Re: 合同续签 / Contract renewal", "Thanks, the revised terms look good to us. 我们下周签字。"),
    ("人事部 <hr@corp.test>", "2026 年春节放假通知", "根据国家规定，春节放假时间为 2 月 16 日至 2 月 22 日。"),
    ("王芳 <wang.fang@corp.test>", "午饭一起吗？", "楼下新开了一家川菜馆，听说担担面很正宗。"),
]
INVOICE_SUBJECT = "上海云桥科技 11 月发票"
INVOICE_BODY_SUBJECT = "报销单据已提交"
DECOYS = [("发送失败的退信说明", "这封邮件没有那个词。"), ("高铁车票已出票", "车票信息见下。")]


@pytest.fixture(scope="module")
def seeded(web_server: RunningServer) -> RunningServer:
    """Background mail plus the search targets and decoys, delivered over SMTP."""
    for frm, subject, body in BACKGROUND:
        deliver(web_server, plain_mail(subject, body, frm=frm))
    deliver(web_server, plain_mail(INVOICE_SUBJECT, "您好，11 月份的增值税专用发票已开具，请查收。",
                                   frm="财务 <finance@yunqiao.example>"))
    deliver(web_server, plain_mail(INVOICE_BODY_SUBJECT, "差旅发票三张已经扫描上传，请审批。",
                                   frm="李娜 <li.na@corp.test>"))
    for subject, body in DECOYS:
        deliver(web_server, plain_mail(subject, body, frm="通知 <noreply@rail.example>"))
    Jmap(web_server, *ALICE[:2]).wait_for(lambda e: e["subject"] == DECOYS[-1][0])
    return web_server


def _no_reload_marker(page: Any) -> None:
    page.evaluate("window.__rmNoReload = 1")


def _assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("window.__rmNoReload") == 1, "the page was reloaded"


def _open_row(page: Any, text: str) -> None:
    row(page, text).first.click()
    page.wait_for_selector(".thread .msg")


def _send_and_wait(page: Any) -> None:
    page.click("[data-testid=compose-send]")
    # after sending, the app leaves the compose screen
    wait_js(page, "!location.hash.startsWith('#/compose')")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_webmail_flows(
    browser: Any, seeded: RunningServer, artifacts: Path, device: str, tmp_path: Path
) -> None:
    srv = seeded
    phone = device == "phone"
    prefix = "phone-" if phone else ""
    week = 48 if phone else 47  # unique per run on the module's server, and reads naturally
    tag = f"第 {week} 周"
    bob = Jmap(srv, *BOB[:2])
    alice = Jmap(srv, *ALICE[:2])
    ctx, page = new_page(browser, PHONE if phone else DESKTOP)
    try:
        # 1. log in
        t0 = time.monotonic()
        login(page, srv)
        row(page, INVOICE_SUBJECT).wait_for()
        print(f"[{device}] login to inbox: {time.monotonic() - t0:.2f}s")

        # 2. a mail delivered by SMTP appears without a reload (push)
        _no_reload_marker(page)
        subject = f"项目进度更新（{tag}）"
        deliver(srv, plain_mail(subject, f"小明你好：\n\n{tag}完成了 JMAP 接口联调，下周开始灰度发布。"
                                         "\n进度表见共享盘。\n\nBob"))
        t0 = time.monotonic()
        row(page, subject).wait_for(timeout=10_000)
        print(f"[{device}] push: SMTP delivery visible after {time.monotonic() - t0:.2f}s")
        _assert_not_reloaded(page)
        shot(page, artifacts, f"{prefix}inbox")

        # 3. open it
        _open_row(page, subject)
        page.locator(".thread .msg").first.wait_for()
        page.wait_for_selector(f".thread-subject:has-text('{subject}')")
        frame_text = page.locator(".thread .msg").first.inner_text()
        mail_text = frame_text + "".join(
            f.evaluate("document.body ? document.body.innerText : ''")
            for f in page.frames[1:]
        )
        assert f"{tag}完成了" in mail_text, mail_text[:500]
        shot(page, artifacts, f"{prefix}message")

        # 4. reply; the reply arrives in Bob's mailbox
        page.get_by_role("button", name=zh("action.reply"), exact=True).first.click()
        page.wait_for_selector("[data-testid=compose-send]:not([disabled])")
        assert BOB[0] in page.input_value("#c-to")
        # the reply opens with the caret in the body, above the quote: just type
        wait_js(page, "document.activeElement?.dataset?.testid === 'compose-body'")
        page.keyboard.type(f"收到，谢谢！{tag}的灰度发布我来跟进。\n")
        _send_and_wait(page)
        reply = bob.wait_for(lambda e: tag in (e.get("subject") or "")
                             and e["from"][0]["email"] == ALICE[0])
        assert subject in reply["subject"]
        assert reply["preview"].startswith(f"收到，谢谢！{tag}的灰度发布我来跟进"), reply["preview"]

        # 5. compose with an attachment (file input) and send
        payload = ("发票明细 " + tag + "\n").encode() * 2000 + bytes(range(256))
        att = tmp_path / f"发票明细-第{week}周.xlsx"
        att.write_bytes(payload)
        page.goto(srv.url("/#/compose"))
        page.wait_for_selector("[data-testid=compose-send]:not([disabled])")
        page.fill("#c-to", BOB[0])
        page.fill("[data-testid=compose-subject]", f"{tag}发票明细")
        page.locator("[data-testid=compose-body]").click()  # then type at once (caret race)
        page.keyboard.type(f"Bob 你好：\n\n{tag}的发票明细见附件，请核对后提交财务。\n\n小明")
        page.set_input_files("[data-testid=compose-file]", str(att))
        page.wait_for_selector(f".compose-atts .att:has-text('{att.name}')")
        wait_js(page, "document.querySelectorAll('.compose-atts progress').length === 0")
        assert page.locator(".compose-atts .att.error").count() == 0
        shot(page, artifacts, f"{prefix}compose")
        _send_and_wait(page)
        got = bob.wait_for(lambda e: e.get("subject") == f"{tag}发票明细")
        assert got["hasAttachment"], got
        assert got["preview"].startswith(f"Bob 你好： {tag}的发票明细"), got["preview"]
        blobs = [a for a in got["attachments"] if a.get("name") == att.name]
        assert blobs, got["attachments"]
        data = bob.download(blobs[0]["blobId"])
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(payload).hexdigest()

        # 6. search 发票: subject hit and body hit, no single-character decoys
        page.goto(srv.url("/#/mail/inbox"))
        page.wait_for_selector(".list-slot .row")
        if phone:
            page.goto(srv.url("/#/search"))
        search = page.locator("[data-testid=search-input]")
        search.fill("发票")
        search.press("Enter")
        row(page, INVOICE_SUBJECT).wait_for()
        row(page, INVOICE_BODY_SUBJECT).wait_for()
        subjects = page.locator(".list-slot .row .subject").all_inner_texts()
        for decoy, _ in DECOYS:
            assert decoy not in subjects, subjects
        assert not any(s.startswith("项目进度更新") for s in subjects), subjects
        assert not any(s.startswith("XSS-") for s in subjects), subjects
        shot(page, artifacts, f"{prefix}search")

        # 7. phone: swipe left to archive
        if phone:
            page.goto(srv.url("/#/mail/inbox"))
            target = row(page, subject)
            target.wait_for()
            seen = touch_swipe(page, target, -160)
            try:
                target.wait_for(state="detached", timeout=10_000)
            except Exception as exc:
                raise AssertionError(f"the swiped row stayed; pointer events {seen}, "
                                     f"toasts {toasts(page)}, errors {page.rm_errors}") from exc
            boxes = alice.mailboxes()
            moved = alice.wait_for(lambda e: e["subject"] == subject
                                   and boxes["archive"]["id"] in e["mailboxIds"])
            assert boxes["inbox"]["id"] not in moved["mailboxIds"], moved
            shot(page, artifacts, "phone-swipe", toasts=True)
            # swipe right marks an unread mail read (on the server)
            unread = row(page, BACKGROUND[-1][1])
            assert "unread" in (unread.get_attribute("class") or "")
            touch_swipe(page, unread, 160)
            page.wait_for_selector(f".list-slot .row:not(.unread):has-text('{BACKGROUND[-1][1]}')")
            alice.wait_for(lambda e: e["subject"] == BACKGROUND[-1][1]
                           and e["keywords"].get("$seen") is True)
        assert not page.rm_errors, page.rm_errors
    finally:
        ctx.close()
