"""RFC 8621 methods over HTTP: Mailbox, Email (get/set/query/import/parse), Thread,
SearchSnippet (Chinese), Identity, EmailSubmission, VacationResponse."""

from __future__ import annotations

import pytest
from jmap_helpers import USER2, JmapEnv, make_message

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

MIXED = (
    b"From: =?utf-8?B?546L5LqU?= <wangwu@example.org>\r\nTo: zhangsan@demo.test\r\n"
    b"Subject: =?utf-8?B?5Y+R56Wo6K+35p+l5pS2?=\r\nDate: Tue, 03 Mar 2026 09:00:00 +0800\r\n"
    b"Message-ID: <mixed-1@example.org>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n"
    b"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain body\r\n"
    b"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    b"<p onclick=\"evil()\">Hi<script>alert(1)</script><img src=\"http://x.test/t.png\"></p>\r\n"
    b"--b2--\r\n"
    b"--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
    b"Content-Disposition: attachment; filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
    b"\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)


async def test_mailbox_get_and_set(jmap: JmapEnv) -> None:
    got = await jmap.one("Mailbox/get", {"ids": None})
    roles = {m["role"] for m in got["list"]}
    assert {"inbox", "sent", "drafts", "trash", "junk", "archive"} <= roles
    inbox = next(m for m in got["list"] if m["role"] == "inbox")
    assert inbox["myRights"]["mayReadItems"] and inbox["totalEmails"] == 0
    res = await jmap.one("Mailbox/set", {"create": {
        "p": {"name": "项目", "parentId": None},
        "c": {"name": "子文件夹", "parentId": "#p"}}})
    assert set(res["created"]) == {"p", "c"}
    pid, cid = res["created"]["p"]["id"], res["created"]["c"]["id"]
    got = await jmap.one("Mailbox/get", {"ids": [cid]})
    assert got["list"][0]["parentId"] == pid and got["list"][0]["name"] == "子文件夹"
    res = await jmap.one("Mailbox/set", {"update": {cid: {"name": "Renamed"}},
                                         "destroy": [pid]})
    assert cid in res["updated"]
    assert res["notDestroyed"][pid]["type"] == "mailboxHasChild"
    q = await jmap.one("Mailbox/query", {"filter": {"role": "inbox"}})
    assert q["ids"] == [inbox["id"]]


async def test_email_get_body_and_sanitized_html(jmap: JmapEnv) -> None:
    from rongmail.actions.messages import Target, do_deliver

    [r] = await do_deliver(jmap.ctx, MIXED, [Target(jmap.account.id)])
    eid = f"E{r.message_id}"
    got = await jmap.one("Email/get", {"ids": [eid], "fetchAllBodyValues": True,
                                       "properties": ["subject", "from", "preview", "textBody",
                                                      "htmlBody", "attachments", "bodyValues",
                                                      "hasAttachment", "bodyStructure",
                                                      "header:Subject:asText", "messageId"]})
    e = got["list"][0]
    assert e["subject"] == "发票请查收"
    assert e["from"] == [{"name": "王五", "email": "wangwu@example.org"}]
    assert e["hasAttachment"] is True and e["messageId"] == ["mixed-1@example.org"]
    assert e["header:Subject:asText"] == "发票请查收"
    assert [p["type"] for p in e["textBody"]] == ["text/plain"]
    assert [p["type"] for p in e["htmlBody"]] == ["text/html"]
    assert [p["name"] for p in e["attachments"]] == ["a.pdf"]
    html_part = e["htmlBody"][0]["partId"]
    html = e["bodyValues"][html_part]["value"]
    assert "<script" not in html and "onclick" not in html and "alert" not in html
    assert ' src="http://x.test' not in html and 'data-rm-src="http://x.test' in html
    assert e["bodyStructure"]["type"] == "multipart/mixed"
    # the attachment blob downloads decoded
    blob = e["attachments"][0]["blobId"]
    url = f"{jmap.base}/jmap/download/{jmap.aid}/{blob}/a.pdf?type=application/pdf"
    async with jmap.http.get(url, headers=jmap.headers()) as resp:
        assert await resp.read() == b"%PDF-1.4\n"


async def test_email_set_create_update_destroy(jmap: JmapEnv) -> None:
    drafts, inbox, archive = (await jmap.mailbox_id("drafts"), await jmap.mailbox_id("inbox"),
                              await jmap.mailbox_id("archive"))
    res = await jmap.one("Email/set", {"create": {"d1": {
        "mailboxIds": {drafts: True}, "keywords": {"$draft": True, "$seen": True},
        "from": [{"name": "Zhang San", "email": jmap.account.address}],
        "to": [{"name": "Li Si", "email": USER2}], "subject": "草稿 draft",
        "bodyValues": {"1": {"value": "正文 body"}}, "textBody": [{"partId": "1",
                                                                 "type": "text/plain"}]}}})
    created = res["created"]["d1"]
    eid = created["id"]
    got = await jmap.one("Email/get", {"ids": [eid], "fetchTextBodyValues": True,
                                       "properties": ["subject", "keywords", "mailboxIds",
                                                      "bodyValues", "textBody", "to"]})
    e = got["list"][0]
    assert e["subject"] == "草稿 draft" and e["keywords"] == {"$draft": True, "$seen": True}
    assert e["mailboxIds"] == {drafts: True}
    assert e["bodyValues"][e["textBody"][0]["partId"]]["value"].strip() == "正文 body"
    res = await jmap.one("Email/set", {"update": {eid: {
        "keywords/$flagged": True, "keywords/$seen": None,
        f"mailboxIds/{drafts}": None, f"mailboxIds/{archive}": True}}})
    assert eid in res["updated"]
    e = (await jmap.one("Email/get", {"ids": [eid],
                                      "properties": ["keywords", "mailboxIds"]}))["list"][0]
    assert e == {"id": eid, "keywords": {"$draft": True, "$flagged": True},
                 "mailboxIds": {archive: True}}
    res = await jmap.one("Email/set", {"update": {eid: {"mailboxIds": {inbox: True,
                                                                       archive: True}}}})
    e = (await jmap.one("Email/get", {"ids": [eid], "properties": ["mailboxIds"]}))["list"][0]
    assert e["mailboxIds"] == {inbox: True, archive: True}
    res = await jmap.one("Email/set", {"update": {eid: {"subject": "x"}, "E999999": {}},
                                       "destroy": [eid, "E999999"]})
    assert res["notUpdated"][eid]["type"] == "invalidProperties"
    assert res["notUpdated"]["E999999"]["type"] == "notFound"
    assert res["destroyed"] == [eid] and res["notDestroyed"]["E999999"]["type"] == "notFound"


async def test_email_query_filters_and_sort(jmap: JmapEnv) -> None:
    inbox = await jmap.mailbox_id("inbox")
    a = await jmap.deliver("请查收发票", "本月发票已开具", sender="caiwu@example.org",
                           date="Mon, 02 Mar 2026 10:00:00 +0800")
    b = await jmap.deliver("Meeting notes", "see attached", sender="boss@example.org",
                           date="Tue, 03 Mar 2026 10:00:00 +0800")
    c = await jmap.deliver("Lunch", "增值税专用发票 and lunch", sender="friend@example.org",
                           date="Wed, 04 Mar 2026 10:00:00 +0800")

    async def q(f: dict, sort: list | None = None) -> list[str]:
        args: dict = {"filter": f}
        if sort:
            args["sort"] = sort
        return (await jmap.one("Email/query", args))["ids"]

    assert set(await q({"text": "发票"})) == {f"E{a}", f"E{c}"}
    assert await q({"subject": "发票"}) == [f"E{a}"]
    assert await q({"body": "专用"}) == [f"E{c}"]
    assert await q({"from": "boss"}) == [f"E{b}"]
    assert set(await q({"operator": "NOT", "conditions": [{"text": "发票"}]})) == {f"E{b}"}
    assert await q({"inMailbox": inbox, "hasKeyword": "$seen"}) == []
    assert len(await q({"notKeyword": "$seen"})) == 3
    assert await q({"inMailbox": inbox}, [{"property": "subject", "isAscending": True}]) == [
        f"E{c}", f"E{b}", f"E{a}"]
    assert await q({"inMailbox": inbox}, [{"property": "size", "isAscending": True}])
    r = await jmap.one("Email/query", {"filter": {"inMailbox": inbox}, "position": 1,
                                       "limit": 1, "calculateTotal": True})
    assert r["total"] == 3 and len(r["ids"]) == 1 and r["position"] == 1
    r = await jmap.one("Email/query", {"filter": {"inMailbox": inbox, "text": "lunch"},
                                       "anchor": f"E{c}", "calculateTotal": True})
    assert r["ids"] == [f"E{c}"]
    snips = await jmap.one("SearchSnippet/get", {"filter": {"text": "发票"},
                                                 "emailIds": [f"E{a}", f"E{c}"]})
    by = {s["emailId"]: s for s in snips["list"]}
    assert by[f"E{a}"]["subject"] == "请查收<mark>发票</mark>"
    assert "<mark>发票</mark>" in by[f"E{c}"]["preview"]
    assert by[f"E{c}"]["subject"] is None


async def test_email_import_and_parse(jmap: JmapEnv) -> None:
    inbox = await jmap.mailbox_id("inbox")
    raw = make_message("导入 import", "imported body", sender="x@example.org",
                       to=jmap.account.address, date="Mon, 02 Mar 2026 10:00:00 +0800")
    async with jmap.http.post(f"{jmap.base}/jmap/upload/{jmap.aid}", data=raw,
                              headers={**jmap.headers(), "Content-Type": "message/rfc822"}) as r:
        blob = (await r.json())["blobId"]
    parsed = await jmap.one("Email/parse", {"blobIds": [blob, "Gdeadbeefdeadbeef"]})
    assert parsed["parsed"][blob]["subject"] == "导入 import"
    assert parsed["notFound"] == ["Gdeadbeefdeadbeef"]
    res = await jmap.one("Email/import", {"emails": {"i1": {
        "blobId": blob, "mailboxIds": {inbox: True}, "keywords": {"$seen": True},
        "receivedAt": "2026-03-01T00:00:00Z"}}})
    eid = res["created"]["i1"]["id"]
    e = (await jmap.one("Email/get", {"ids": [eid], "properties": ["receivedAt", "keywords"]}
                        ))["list"][0]
    assert e["receivedAt"] == "2026-03-01T00:00:00Z" and e["keywords"] == {"$seen": True}


async def test_identity_submission_and_vacation(jmap: JmapEnv) -> None:
    ids_ = await jmap.one("Identity/get", {"ids": None})
    ident = ids_["list"][0]
    assert ident["email"] == jmap.account.address and ident["mayDelete"] is False
    res = await jmap.one("Identity/set", {"create": {"x": {"email": "ceo@elsewhere.test"}}})
    assert res["notCreated"]["x"]["type"] == "forbiddenFrom"
    drafts, sent = await jmap.mailbox_id("drafts"), await jmap.mailbox_id("sent")
    resp = await jmap.call(
        ["Email/set", {"accountId": jmap.aid, "create": {"m": {
            "mailboxIds": {drafts: True}, "keywords": {"$draft": True},
            "from": [{"email": jmap.account.address}], "to": [{"email": USER2}],
            "subject": "你好 hello", "bodyValues": {"b": {"value": "hi"}},
            "textBody": [{"partId": "b"}]}}}, "0"],
        ["EmailSubmission/set", {"accountId": jmap.aid, "create": {"s": {
            "identityId": ident["id"], "emailId": "#m"}},
            "onSuccessUpdateEmail": {"#s": {f"mailboxIds/{drafts}": None,
                                            f"mailboxIds/{sent}": True,
                                            "keywords/$draft": None}}}, "1"])
    assert [r[0] for r in resp] == ["Email/set", "EmailSubmission/set", "Email/set"], resp
    sub = resp[1][1]["created"]["s"]
    assert sub["undoStatus"] == "final"
    eid = resp[0][1]["created"]["m"]["id"]
    e = (await jmap.one("Email/get", {"ids": [eid], "properties": ["mailboxIds", "keywords"]}
                        ))["list"][0]
    assert e["mailboxIds"] == {sent: True} and e["keywords"] == {}
    got = await jmap.one("EmailSubmission/get", {"ids": [sub["id"]]})
    assert got["list"][0]["deliveryStatus"][USER2]["delivered"] == "queued"
    # send later: pending, cancellable
    res = await jmap.one("EmailSubmission/set", {"create": {"later": {
        "identityId": ident["id"], "emailId": eid, "sendAt": "2099-01-01T00:00:00Z"}}})
    later = res["created"]["later"]
    assert later["undoStatus"] == "pending"
    res = await jmap.one("EmailSubmission/set", {"update": {later["id"]: {
        "undoStatus": "canceled"}}})
    assert later["id"] in res["updated"]
    res = await jmap.one("EmailSubmission/set", {"update": {sub["id"]: {
        "undoStatus": "canceled"}}})
    assert res["notUpdated"][sub["id"]]["type"] == "cannotUnsend"
    q = await jmap.one("EmailSubmission/query", {"filter": {"undoStatus": "canceled"}})
    assert q["ids"] == [later["id"]]
    # vacation
    v = await jmap.one("VacationResponse/get", {"ids": None})
    assert v["list"][0]["isEnabled"] is False
    res = await jmap.one("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "休假中", "textBody": "back soon"}}})
    assert "singleton" in res["updated"]
    v = await jmap.one("VacationResponse/get", {"ids": ["singleton"]})
    assert v["list"][0]["isEnabled"] is True and v["list"][0]["subject"] == "休假中"


async def test_send_later_is_sent_when_due(jmap: JmapEnv) -> None:
    from rongmail.protocols.jmap.call import JmapDeps
    from rongmail.protocols.jmap.mail.submissions import send_due
    from rongmail.protocols.jmap.proto.request import Limits

    eid = f"E{await jmap.deliver('later', 'x', sender=jmap.account.address)}"
    res = await jmap.one("EmailSubmission/set", {"create": {"s": {
        "identityId": "I0", "emailId": eid,
        "envelope": {"mailFrom": {"email": jmap.account.address, "parameters": {
            "HOLDFOR": "3600"}}, "rcptTo": [{"email": USER2}]}}}})
    sid = res["created"]["s"]["id"]
    assert res["created"]["s"]["undoStatus"] == "pending"
    import time

    deps = JmapDeps(jmap.ctx, jmap.reader, Limits())
    assert await send_due(deps, int(time.time()) + 7200) == 1
    got = await jmap.one("EmailSubmission/get", {"ids": [sid]})
    assert got["list"][0]["undoStatus"] == "final"


async def test_threads_collapse_and_thread_keywords(jmap: JmapEnv) -> None:
    root = await jmap.deliver("Plan", "v1", extra="")
    msgid = (await jmap.reader.messages(jmap.account.id, [root]))[0].msgid
    reply = await jmap.deliver("Re: Plan", "v2", extra=f"In-Reply-To: <{msgid}>\r\n",
                               date="Tue, 03 Mar 2026 10:00:00 +0800")
    other = await jmap.deliver("Other", "x", date="Wed, 04 Mar 2026 10:00:00 +0800")
    m = (await jmap.reader.messages(jmap.account.id, [root, reply]))
    assert m[0].thread_id == m[1].thread_id
    t = await jmap.one("Thread/get", {"ids": [f"T{m[0].thread_id}"]})
    assert t["list"][0]["emailIds"] == [f"E{root}", f"E{reply}"]
    q = await jmap.one("Email/query", {"collapseThreads": True, "sort": [
        {"property": "receivedAt", "isAscending": False}]})
    assert q["ids"] == [f"E{other}", f"E{reply}"] and q["collapseThreads"] is True
    await jmap.one("Email/set", {"update": {f"E{root}": {"keywords/$seen": True}}})
    some = await jmap.one("Email/query", {"filter": {"someInThreadHaveKeyword": "$seen"}})
    assert set(some["ids"]) == {f"E{root}", f"E{reply}"}
    every = await jmap.one("Email/query", {"filter": {"allInThreadHaveKeyword": "$seen"}})
    assert every["ids"] == []
    none = await jmap.one("Email/query", {"filter": {"noneInThreadHaveKeyword": "$seen"}})
    assert none["ids"] == [f"E{other}"]


async def test_identity_lifecycle_and_changes(jmap: JmapEnv) -> None:
    from rongmail.actions.accounts import do_create_alias

    await do_create_alias(jmap.ctx, "sales@demo.test", [jmap.account.address])
    state = (await jmap.one("Identity/get", {"ids": []}))["state"]
    res = await jmap.one("Identity/set", {"create": {"s": {
        "name": "Sales", "email": "sales@demo.test", "textSignature": "-- sales"}}})
    iid = res["created"]["s"]["id"]
    await jmap.one("Identity/set", {"update": {iid: {"name": "Sales team"}}})
    ch = await jmap.one("Identity/changes", {"sinceState": state})
    assert ch["created"] == [iid] and ch["updated"] == []
    got = await jmap.one("Identity/get", {"ids": [iid]})
    assert got["list"][0]["name"] == "Sales team"
    res = await jmap.one("Identity/set", {"destroy": [iid, "I0"]})
    assert res["destroyed"] == [iid] and res["notDestroyed"]["I0"]["type"] == "forbidden"
    ch = await jmap.one("Identity/changes", {"sinceState": state})
    assert ch["created"] == ch["updated"] == ch["destroyed"] == []


async def test_mailbox_changes_and_query_changes(jmap: JmapEnv) -> None:
    q = await jmap.one("Mailbox/query", {"sort": [{"property": "name"}]})
    res = await jmap.one("Mailbox/set", {"create": {"n": {"name": "AAA first"}}})
    mid = res["created"]["n"]["id"]
    ch = await jmap.one("Mailbox/changes", {"sinceState": q["queryState"]})
    assert ch["created"] == [mid] and ch["updatedProperties"] is None
    qc = await jmap.one("Mailbox/queryChanges", {"sort": [{"property": "name"}],
                                                 "sinceQueryState": q["queryState"]})
    assert qc["added"] == [{"id": mid, "index": 0}]


async def test_submission_refuses_foreign_from(jmap: JmapEnv) -> None:
    eid = f"E{await jmap.deliver('spoof', 'x', sender='boss@example.org')}"
    res = await jmap.one("EmailSubmission/set", {"create": {"s": {
        "identityId": "I0", "emailId": eid}}})
    assert res["notCreated"]["s"]["type"] == "forbiddenFrom"
    res = await jmap.one("EmailSubmission/set", {"create": {"s": {
        "identityId": "I0", "emailId": eid, "envelope": {
            "mailFrom": {"email": "boss@example.org"}, "rcptTo": [{"email": USER2}]}}}})
    assert res["notCreated"]["s"]["type"] == "forbiddenFrom"
