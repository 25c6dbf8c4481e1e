"""Email/query: the SQL path (``store.sql.jmap.email_query``) against the in-memory evaluator.

A seeded generator builds random FilterCondition/FilterOperator trees, sorts, thread
collapsing and windows over a mailbox set up to hit every condition (Chinese and English text,
addresses, dates, sizes, attachments, system and custom keywords, several mailboxes, threads,
ties, non-ASCII capitals for the text sorts). Each query is sent twice over HTTP, once as the
server runs it and once with the SQL compiler disabled (the in-memory path): the whole method
responses must be equal. Runs on SQLite and PostgreSQL (the ``stack`` fixture)."""

from __future__ import annotations

import os
import random
from typing import Any

import pytest
from jmap_helpers import JmapEnv

from rongmail.protocols.jmap.methods.email import query as qmod

pytestmark = pytest.mark.timeout(300)

T0 = 1_772_400_000  # 2026-03-01T21:20:00Z
SUBJECTS = ["请查收三月发票", "发票", "Weekly report", "weekly REPORT", "会议纪要：项目进度",
            "Re: contract draft", "Émile's invoice", "émile's notes", "Ölfirma Angebot",
            "服务器告警 disk 90%", "", "Invoice #42", "年度预算审批"]
SENDERS = ["Sender One <sender1@example.org>", "sender10@example.org",
           "\"王五\" <wangwu@example.org>", "Émile Zola <emile@example.fr>",
           "émile zola <ez@example.fr>", "\"Alice\" <alice@corp.test>", "bob@corp.test"]
BODIES = ["请在周五前回复发票。", "The quarterly numbers are attached below.",
          "项目进度 见附件 invoice", "plain body", "发票号码 12345"]
WORDS = ["发票", "票", "三月", "进度", "invoice", "INV", "report", "sender1", "Émile", "émile",
         "zola", "example", "附件", "周五", "", "  ", "corp.test", "notes", "12345", "王五",
         "quarterly numbers", "x"]
KEYWORDS = ["$seen", "$flagged", "$draft", "$answered", "work", "todo", "nonexistent", "$SEEN",
            "Work", "two words", ""]


def _raw(n: int, rnd: random.Random, parent: str | None) -> bytes:
    from email.header import Header

    subject = rnd.choice(SUBJECTS)
    sender = rnd.choice(SENDERS)
    to = rnd.choice(["zhangsan@demo.test", "\"Zhang San\" <zhangsan@demo.test>",
                     "\"Ärger\" <a@x.test>", "lisi@demo.test"])
    cc = rnd.choice(["", "Cc: carol@corp.test\r\n", "Cc: \"发票组\" <fp@corp.test>\r\n"])
    day = rnd.randrange(0, 20)
    date = f"{1 + day:02d} Mar 2026 {rnd.randrange(24):02d}:00:00 +0800"
    hdrs = (f"From: {sender}\r\nTo: {to}\r\n{cc}Subject: {Header(subject, 'utf-8').encode()}\r\n"
            f"Date: Mon, {date}\r\nMessage-ID: <q{n}@example.org>\r\nMIME-Version: 1.0\r\n")
    if parent:
        hdrs += f"In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
    body = rnd.choice(BODIES) + "\r\n" + "padding line\r\n" * rnd.randrange(0, 30)
    if rnd.random() < 0.3:
        raw = (hdrs + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n--b1\r\n"
               "Content-Type: application/pdf\r\nContent-Disposition: attachment;"
               " filename=\"fapiao.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
               "JVBERi0xLjQK\r\n--b1--\r\n")
    else:
        raw = (hdrs + "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    return raw.encode()


async def _populate(jmap: JmapEnv, rnd: random.Random) -> tuple[list[str], list[str]]:
    """Deliver ~45 messages and spread them over mailboxes/keywords. Returns (mailbox ids,
    email ids)."""
    from rongmail.actions.messages import Target, do_deliver

    res = await jmap.one("Mailbox/set", {"create": {
        "a": {"name": "项目"}, "b": {"name": "Archive2"}}})
    extra = [res["created"]["a"]["id"], res["created"]["b"]["id"]]
    inbox = await jmap.mailbox_id("inbox")
    mailboxes = [inbox, *extra]
    emails: list[str] = []
    for n in range(45):
        parent = f"q{rnd.randrange(n)}@example.org" if n and rnd.random() < 0.35 else None
        when = T0 + rnd.choice([0, 60, 3600]) * rnd.randrange(0, 40)  # many ties
        [r] = await do_deliver(jmap.ctx, _raw(n, rnd, parent), [Target(jmap.account.id)],
                               received_at=when)
        emails.append(f"E{r.message_id}")
    update: dict[str, Any] = {}
    for e in emails:
        patch: dict[str, Any] = {}
        for kw in ("$seen", "$flagged", "work", "todo", "$answered"):
            if rnd.random() < 0.4:
                patch[f"keywords/{kw}"] = True
        roll = rnd.random()
        if roll < 0.25:
            patch[f"mailboxIds/{extra[0]}"] = True
        elif roll < 0.4:
            patch[f"mailboxIds/{extra[1]}"] = True
            patch[f"mailboxIds/{inbox}"] = None
        elif roll < 0.5:
            patch[f"mailboxIds/{extra[0]}"] = True
            patch[f"mailboxIds/{extra[1]}"] = True
        if patch:
            update[e] = patch
    res = await jmap.one("Email/set", {"update": update})
    assert not res.get("notUpdated"), res
    return mailboxes, emails


def _date(rnd: random.Random) -> Any:
    if rnd.random() < 0.05:
        return rnd.choice(["yesterday", 12, "2026-13-01T00:00:00Z"])  # malformed: fallback
    if rnd.random() < 0.5:  # exactly some message's receivedAt (boundaries)
        t = T0 + rnd.choice([0, 60, 3600]) * rnd.randrange(0, 40)
    else:
        t = T0 + rnd.randrange(-3600, 41 * 3600, 600)
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(rnd: random.Random, mailboxes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(rnd.choice([0, 1, 1, 1, 1, 2, 3])):
        k = rnd.choice(["inMailbox", "inMailboxOtherThan", "before", "after", "minSize",
                        "maxSize", "hasAttachment", "hasKeyword", "notKeyword",
                        "allInThreadHaveKeyword", "someInThreadHaveKeyword",
                        "noneInThreadHaveKeyword", "text", "from", "to", "cc", "bcc",
                        "subject", "body"])
        if k == "inMailbox":
            out[k] = rnd.choice([*mailboxes, "M999999", "bogus"])
        elif k == "inMailboxOtherThan":
            out[k] = rnd.sample([*mailboxes, "M999999"], rnd.randrange(0, 3))
        elif k in ("before", "after"):
            out[k] = _date(rnd)
        elif k in ("minSize", "maxSize"):
            out[k] = rnd.choice([0, 500, 800, 1000, 1200, 1500, 2000, "900", 10**30])
        elif k == "hasAttachment":
            out[k] = rnd.random() < 0.5
        elif "Keyword" in k:
            out[k] = rnd.choice(KEYWORDS)
        else:
            out[k] = rnd.choice(WORDS)
    return out


def _filter(rnd: random.Random, mailboxes: list[str], depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rnd.random() < 0.4:
        return {"operator": rnd.choice(["AND", "OR", "NOT"]),
                "conditions": [_filter(rnd, mailboxes, depth + 1)
                               for _ in range(rnd.randrange(0, 4))]}
    return _condition(rnd, mailboxes)


def _sort(rnd: random.Random) -> list[dict[str, Any]]:
    out = []
    for _ in range(rnd.choice([1, 1, 2, 3])):
        prop = rnd.choice(["receivedAt", "sentAt", "size", "from", "to", "subject",
                           "hasKeyword", "allInThreadHaveKeyword", "someInThreadHaveKeyword"])
        comp: dict[str, Any] = {"property": prop}
        if rnd.random() < 0.7:
            comp["isAscending"] = rnd.random() < 0.5
        if "Keyword" in prop:
            comp["keyword"] = rnd.choice(KEYWORDS)
        out.append(comp)
    return out


def _query(rnd: random.Random, jmap: JmapEnv, mailboxes: list[str], emails: list[str]
           ) -> dict[str, Any]:
    args: dict[str, Any] = {"accountId": jmap.aid}
    r = rnd.random()
    if r < 0.25:
        args["filter"] = {"operator": "AND", "conditions": [
            {"inMailbox": rnd.choice(mailboxes)}, _filter(rnd, mailboxes)]}
    elif r < 0.9:
        args["filter"] = _filter(rnd, mailboxes)
    if rnd.random() < 0.8:
        args["sort"] = _sort(rnd)
    if rnd.random() < 0.3:
        args["collapseThreads"] = True
    if rnd.random() < 0.6:
        args["limit"] = rnd.choice([0, 1, 5, 10, 50])
    r = rnd.random()
    if r < 0.2:
        args["position"] = rnd.choice([1, 3, 20, 100])
    elif r < 0.25:
        args["position"] = rnd.choice([-1, -5, -100])
    elif r < 0.32:
        args["anchor"] = rnd.choice([*emails, "E999999"])
        args["anchorOffset"] = rnd.choice([0, -2, 3])
    if rnd.random() < 0.6:
        args["calculateTotal"] = True
    return args


#: more seeds for a longer hunt: RONGMAIL_QUERY_SQL_SEEDS=1-40
_SEEDS = os.environ.get("RONGMAIL_QUERY_SQL_SEEDS", "1-2").partition("-")


@pytest.mark.parametrize("seed", range(int(_SEEDS[0]), int(_SEEDS[2] or _SEEDS[0]) + 1))
async def test_sql_path_matches_in_memory(jmap: JmapEnv, monkeypatch: pytest.MonkeyPatch,
                                          seed: int) -> None:
    rnd = random.Random(seed)
    mailboxes, emails = await _populate(jmap, rnd)
    compiled = 0
    real = qmod.compile_query

    def counting(*a: Any) -> Any:
        nonlocal compiled
        got = real(*a)
        compiled += got is not None
        return got

    total_queries = 150
    nonempty = 0
    for i in range(total_queries):
        args = _query(rnd, jmap, mailboxes, emails)
        monkeypatch.setattr(qmod, "compile_query", counting)
        [sql] = await jmap.call(["Email/query", args, "q"])
        monkeypatch.setattr(qmod, "compile_query", lambda *a: None)
        [mem] = await jmap.call(["Email/query", args, "q"])
        assert sql == mem, (i, args)
        nonempty += bool(sql[0] == "Email/query" and sql[1]["ids"])
    # most queries must have taken the SQL path and found something
    assert compiled >= total_queries * 0.6, compiled
    assert nonempty >= total_queries * 0.3, nonempty


async def test_sql_path_edge_cases(jmap: JmapEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand-picked cases: empty operators, a bogus pinned mailbox, a position past the end,
    limit 0, and the benchmark's search (text + from + after, by date)."""
    rnd = random.Random(7)
    mailboxes, _ = await _populate(jmap, rnd)
    cases: list[dict[str, Any]] = [
        {"filter": {}, "calculateTotal": True},
        {"filter": {"operator": "OR", "conditions": [{}, {"text": "发票"}]}},
        {"filter": {"operator": "AND", "conditions": []}},
        {"filter": {"operator": "OR", "conditions": []}, "calculateTotal": True},
        {"filter": {"operator": "NOT", "conditions": []}, "limit": 3},
        {"filter": {"inMailbox": "M999999", "text": "发票"}, "calculateTotal": True},
        {"filter": {"text": "发票"}, "position": 500, "calculateTotal": True},
        {"filter": {"text": "发票"}, "position": 500},
        {"filter": {"text": "发票"}, "limit": 0, "position": 2, "calculateTotal": True},
        {"filter": {"operator": "AND", "conditions": [
            {"inMailbox": mailboxes[0]}, {"text": "发票", "from": "sender1",
                                          "after": "2026-03-01T00:00:00Z"}]},
         "sort": [{"property": "receivedAt", "isAscending": False}], "limit": 50,
         "calculateTotal": True},
        {"filter": {"hasKeyword": "$seen"}, "collapseThreads": True,
         "sort": [{"property": "subject"}], "calculateTotal": True},
        {"filter": {"before": "bad date"}},
        {"filter": {"header": ["X-Spam"]}},
        {"sort": [{"property": "unknown"}]},
    ]
    for args in cases:
        args = {"accountId": jmap.aid, **args}
        [sql] = await jmap.call(["Email/query", args, "q"])
        monkeypatch.setattr(qmod, "compile_query", lambda *a: None)
        [mem] = await jmap.call(["Email/query", args, "q"])
        monkeypatch.undo()
        assert sql == mem, args
