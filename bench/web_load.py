"""Benchmark: the webmail in Debian's Chromium against a real ``rongmail serve`` (issue 6).

Measures, median of ``--runs`` runs, on a mailbox of ``--messages`` (10,000) messages loaded
with ``rongmail import`` of a generated mbox:

* **cold load → interactive inbox**: a fresh browser context (empty cache, no service worker)
  that already holds the session cookie opens ``/``; time from navigation start until the first
  inbox row is rendered and clickable (goal ≤ 1.5 s). DOMContentLoaded is reported too.
* **first page of the 10,000-message inbox**: (a) the app's own list request (``Email/query``
  position 0, 50 rows, ``collapseThreads``, ``calculateTotal`` + ``Email/get`` + ``Thread/get``
  by back-reference) timed over HTTP, (b) the same at position 9,950 (infinite scroll's far
  end), and (c) in the browser, from clicking the Inbox folder (coming from another folder) to
  the first row on screen (goal ≤ 300 ms).
* **infinite scroll**: jump to the end of the list; time until the oldest row is on screen,
  and how many rows the DOM holds then (the list is virtualised).
* **first-screen JS**: every script the cold load fetched before the inbox was interactive,
  raw and gzipped (goal ≤ 300 KB gzipped); CSS likewise.

Needs the built webmail (``make web``), the ``playwright`` package and ``/usr/bin/chromium``.
Usage::

    .venv/bin/python bench/web_load.py [--messages 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import statistics
import sys
import time
import urllib.request
from email.header import Header
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, HarnessError, RongMail, free_port, table  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
GOALS = {"cold": 1500.0, "first_page": 300.0, "js_gz": 300.0}
SUBJECTS = ("请查收三月发票", "Weekly report", "会议纪要：项目进度", "Re: contract draft",
            "服务器告警 disk 90%", "周五团建安排", "年度预算审批", "Invoice #{n}")
NAMES = ("张伟", "李娜", "王芳", "刘洋", "陈杰", "Alice Smith", "Bob Lee", "赵敏")


def mbox(path: Path, n: int, user: str) -> None:
    """``n`` small zh/en messages, one a minute, oldest first, as an mbox file."""
    t0 = int(time.time()) - n * 60
    rnd = random.Random(6)
    with path.open("wb") as f:
        for i in range(n):
            when = t0 + i * 60
            name = NAMES[i % len(NAMES)]
            subject = SUBJECTS[i % len(SUBJECTS)].replace("{n}", str(i))
            date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
            body = (f"第 {i} 封邮件。请在周五前回复。\nMessage {i}: numbers below.\n"
                    + "".join(f"{rnd.randint(1000, 9999)} " for _ in range(20)) + "\n")
            f.write(f"From sender{i % 97}@example.org {time.asctime(time.gmtime(when))}\n".encode())
            f.write((f"From: {Header(name, 'utf-8').encode()} <sender{i % 97}@example.org>\n"
                     f"To: {user}\nSubject: {Header(subject, 'utf-8').encode()}\nDate: {date}\n"
                     f"Message-ID: <web-bench-{i}@example.org>\nMIME-Version: 1.0\n"
                     "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                     + body + "\n").encode())


def login_cookie(base: str, user: str, password: str) -> tuple[str, str]:
    req = urllib.request.Request(base + "/api/login", method="POST",
                                 data=json.dumps({"username": user, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        cookie = r.headers["Set-Cookie"].split(";", 1)[0]
        body = json.loads(r.read())
    return cookie, str(body["accountId"])


def jmap(base: str, auth: str, calls: list[Any]) -> tuple[float, Any]:
    body = json.dumps({"using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
                       "methodCalls": calls}).encode()
    req = urllib.request.Request(base + "/jmap/api", data=body, headers={
        "Authorization": auth, "Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.loads(r.read())
    return (time.perf_counter() - t) * 1000, out


def list_calls(account: str, inbox: str, position: int, collapse: bool = True) -> list[Any]:
    """The request the webmail sends for one list window (see web/src/stores/mail.ts)."""
    props = ["id", "threadId", "mailboxIds", "keywords", "from", "to", "subject", "receivedAt",
             "preview", "hasAttachment", "size"]
    return [
        ["Email/query", {"accountId": account, "filter": {"inMailbox": inbox},
                         "sort": [{"property": "receivedAt", "isAscending": False}],
                         "collapseThreads": collapse, "position": position, "limit": 50,
                         "calculateTotal": True}, "c0"],
        ["Email/get", {"accountId": account, "properties": props,
                       "#ids": {"resultOf": "c0", "name": "Email/query", "path": "/ids"}}, "c1"],
        ["Thread/get", {"accountId": account,
                        "#ids": {"resultOf": "c1", "name": "Email/get", "path": "/list/*/threadId"}},
         "c2"],
    ]


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def verdict(v: float, goal: float) -> str:
    return "ok" if v <= goal else "OVER"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if not (REPO / "src/rongmail/static/web/index.html").exists():
        raise HarnessError("webmail not built: run `make web`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise HarnessError("the playwright package is missing") from exc

    with RongMail(domain="corp.test", user="bench", password="Bench-pass-2026") as rm:
        rm.init()
        box = rm.tmp / "inbox.mbox"
        t = time.perf_counter()
        mbox(box, a.messages, rm.address)
        rm.cli("import", "--account", rm.address, "--format", "mbox", "--no-progress", str(box))
        print(f"generated and imported {a.messages} messages in {time.perf_counter() - t:.1f}s")
        port = free_port("127.0.0.1")
        rm.serve({"http": ("127.0.0.1", port)})
        if not rm.available("http"):
            raise HarnessError("rongmail serve did not start:\n" + rm.log_text()[-2000:])
        base = f"http://127.0.0.1:{port}"
        basic = "Basic " + base64.b64encode(f"{rm.address}:{rm.password}".encode()).decode()
        cookie, account = login_cookie(base, rm.address, rm.password)
        _, mbs = jmap(base, basic, [["Mailbox/get", {"accountId": account, "ids": None}, "m"]])
        boxes = {m.get("role"): m for m in mbs["methodResponses"][0][1]["list"]}
        inbox = boxes["inbox"]
        print(f"inbox: {inbox['totalEmails']} messages")

        # (a)/(b) the list request over HTTP
        _, out = jmap(base, basic, list_calls(account, inbox["id"], 0))
        listed = int(out["methodResponses"][0][1]["total"])  # conversations (collapseThreads)
        print(f"inbox list: {listed} rows (threads collapsed)")
        first, deep, flat = [], [], []
        for _ in range(max(a.runs, 5)):
            flat.append(jmap(base, basic, list_calls(account, inbox["id"], 0, collapse=False))[0])
            first.append(jmap(base, basic, list_calls(account, inbox["id"], 0))[0])
            deep.append(jmap(base, basic, list_calls(account, inbox["id"],
                                                     max(0, listed - 50)))[0])

        cold, dcl, click, js_raw, js_gz, css_gz = [], [], [], [], [], []
        scroll: list[float] = []
        dom_rows: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for _ in range(a.runs):
                ctx = browser.new_context(viewport={"width": 1280, "height": 800},
                                          locale="zh-CN", service_workers="block")
                name, value = cookie.split("=", 1)
                ctx.add_cookies([{"name": name, "value": value, "url": base}])
                page = ctx.new_page()
                scripts: list[Any] = []
                page.on("response", lambda r, s=scripts: s.append(r)
                        if r.request.resource_type in ("script", "stylesheet") else None)
                t = time.perf_counter()
                page.goto(base + "/", wait_until="commit")
                page.locator(".list-slot .row").first.wait_for(timeout=30_000)
                cold.append((time.perf_counter() - t) * 1000)
                dcl.append(page.evaluate(
                    "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
                raw = gz = cgz = 0
                for r in scripts:
                    body = r.body()
                    if r.request.resource_type == "script":
                        raw += len(body)
                        gz += len(gzip.compress(body, 9))
                    else:
                        cgz += len(gzip.compress(body, 9))
                js_raw.append(raw / 1024)
                js_gz.append(gz / 1024)
                css_gz.append(cgz / 1024)
                # (c) switch folders, then time Inbox click → first row
                other = boxes.get("sent") or boxes.get("drafts")
                page.evaluate(f"location.hash = '#/mail/{other['id']}'")
                page.wait_for_timeout(400)
                t = time.perf_counter()
                page.locator(f".folders a[href='#/mail/{inbox['id']}']").click()
                page.locator(".list-slot .row").first.wait_for(timeout=30_000)
                click.append((time.perf_counter() - t) * 1000)
                # (d) infinite scroll: jump to the end of the list → the oldest row rendered
                last = listed - 1
                t = time.perf_counter()
                page.evaluate("(() => { const s = document.querySelector('.list-scroll');"
                              " s.scrollTop = s.scrollHeight; })()")
                page.locator(f".list-slot .row-wrap[data-index='{last}'] .row").wait_for(
                    timeout=30_000)
                scroll.append((time.perf_counter() - t) * 1000)
                dom_rows.append(page.locator(".list-slot").count())
                ctx.close()
            browser.close()

    rows = [
        ["cold load → interactive inbox (ms)", f"{med(cold):.0f}", f"{min(cold):.0f}",
         f"{max(cold):.0f}", "≤ 1500", verdict(med(cold), GOALS["cold"])],
        ["  of which DOMContentLoaded (ms)", f"{med(dcl):.0f}", f"{min(dcl):.0f}",
         f"{max(dcl):.0f}", "", ""],
        [f"first page, {a.messages:,} inbox: JMAP list request (ms)", f"{med(first):.1f}",
         f"{min(first):.1f}", f"{max(first):.1f}", "≤ 300", verdict(med(first), GOALS["first_page"])],
        [f"  same at position {max(0, listed - 50):,} (ms)", f"{med(deep):.1f}",
         f"{min(deep):.1f}", f"{max(deep):.1f}", "≤ 300", verdict(med(deep), GOALS["first_page"])],
        ["  same without collapseThreads (diagnostic, ms)", f"{med(flat):.1f}",
         f"{min(flat):.1f}", f"{max(flat):.1f}", "", ""],
        ["first page in the UI: Inbox click → first row (ms)", f"{med(click):.0f}",
         f"{min(click):.0f}", f"{max(click):.0f}", "≤ 300", verdict(med(click), GOALS["first_page"])],
        [f"infinite scroll: jump to row {listed:,} → rendered (ms)", f"{med(scroll):.0f}",
         f"{min(scroll):.0f}", f"{max(scroll):.0f}", "", ""],
        ["  list rows in the DOM at the end (count)", f"{med(dom_rows):.0f}", "", "", "", ""],
        ["first-screen JS, raw (KB)", f"{med(js_raw):.0f}", "", "", "", ""],
        ["first-screen JS, gzip -9 (KB)", f"{med(js_gz):.1f}", "", "", "≤ 300",
         verdict(med(js_gz), GOALS["js_gz"])],
        ["first-screen CSS, gzip -9 (KB)", f"{med(css_gz):.1f}", "", "", "", ""],
    ]
    print(f"\nwebmail load, {a.runs} runs (median, min, max); Chromium "
          f"{CHROMIUM}, localhost")
    print(table(["measure", "median", "min", "max", "goal", ""], rows))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"harness error: {exc}", file=sys.stderr)
        sys.exit(2)
