"""/api/quarantine reads the webmail and admin console need (issue 9): the plain-data preview,
the admin filters by mailbox and tag with a paging cursor, the holding mailbox's address, and
the privacy of a user's own list (other envelope recipients stay hidden)."""

from __future__ import annotations

from rongmail.protocols.http.login import CSRF_HEADER
from rongmail.protocols.http.quarantine import PREVIEW_CHARS, preview_of
from unit.spam_integration.samples import phishing

from .conftest import QEnv
from .samples import exe_invoice


async def test_preview_is_plain_data(qenv: QEnv) -> None:
    await qenv.deliver(phishing(to=qenv.user.address))
    s, _ = await qenv.session(qenv.user.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine") as r:
            [item] = (await r.json())["items"]
        assert item["account"] == qenv.user.address
        async with s.get(f"{qenv.base}/api/quarantine/{item['id']}/preview") as r:
            assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
            body = await r.json()
        assert body["id"] == item["id"]
        assert body["from"] == [
            {"name": "Wang Jianguo", "email": "ceo.office@gmail-secure.example"}
        ]
        assert body["subject"].startswith("Urgent: change of supplier bank account")
        assert "supplier's bank account" in body["text"]
        assert body["hasHtml"] is True
        assert "<form" not in body["text"] and "<a " not in body["text"]
        assert body["truncated"] is False and body["attachments"] == []
    # someone else's row: 404, as for every other read
    s, _ = await qenv.session(qenv.other.address)
    async with s, s.get(f"{qenv.base}/api/quarantine/{item['id']}/preview") as r:
        assert r.status == 404


async def test_preview_lists_attachments_and_strips_controls(qenv: QEnv) -> None:
    await qenv.deliver(exe_invoice(qenv.user.address))
    s, _ = await qenv.session(qenv.user.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine") as r:
            [item] = (await r.json())["items"]
        async with s.get(f"{qenv.base}/api/quarantine/{item['id']}/preview") as r:
            body = await r.json()
    [att] = body["attachments"]
    assert att["name"] == "invoice.pdf.exe" and att["type"] == "application/octet-stream"
    assert att["size"] > 0
    # the pure function: bidi overrides and control characters are removed, long text is cut
    raw = (
        "From: a@example.net\r\nSubject: x\u202egpj.exe\r\nContent-Type: text/plain; "
        "charset=utf-8\r\n\r\n" + "\x1b[31mred\x07" + "y" * (PREVIEW_CHARS + 10)
    ).encode()
    got = preview_of(raw)
    assert got["subject"] == "xgpj.exe"
    assert got["text"].startswith("[31mred") and len(got["text"]) == PREVIEW_CHARS
    assert got["truncated"] is True


async def test_user_list_hides_other_recipients(qenv: QEnv) -> None:
    from rongmail.pipeline.delivery import ActionDelivery
    from rongmail.pipeline.envelope import (
        Client,
        Envelope,
        Listener,
        Recipient,
        RecipientKind,
        Resolution,
    )
    from rongmail.pipeline.quarantine import QuarantineDelivery
    from rongmail.pipeline.stage import Checkpoint
    from rongmail.pipeline.stages.spam import SpamStage

    rcpts = tuple(
        Recipient(a.address, Resolution(RecipientKind.LOCAL, (a.id,), a.address, qenv.tenant_id))
        for a in (qenv.user, qenv.other)
    )
    env = Envelope(
        Client("192.0.2.7", 40000, Listener.MX),
        helo="mx.example.net",
        mail_from="bounce@example.net",
        rcpts=rcpts,
        message=phishing(to=qenv.user.address),
        trace=b"Received: from mx.example.net by test\r\n",
    )
    verdict = await SpamStage(qenv.ctx.meta, qenv.models).check(Checkpoint.DATA, env)
    held = await QuarantineDelivery(ActionDelivery(qenv.ctx, qenv.reader), qenv.ctx).deliver(
        env, verdict
    )
    assert held.startswith("H"), held
    s, _ = await qenv.session(qenv.user.address)
    async with s:
        async with s.get(qenv.base + "/api/quarantine") as r:
            [item] = (await r.json())["items"]
        assert item["rcpts"] == [qenv.user.address]
        async with s.get(f"{qenv.base}/api/quarantine/{item['id']}") as r:
            assert (await r.json())["rcpts"] == [qenv.user.address]
    s, _ = await qenv.session(qenv.admin.address)
    async with s, s.get(qenv.base + "/api/quarantine?scope=tenant") as r:
        items = (await r.json())["items"]
    assert len(items) == 2
    assert all(set(i["rcpts"]) == {qenv.user.address, qenv.other.address} for i in items)
    assert {i["account"] for i in items} == {qenv.user.address, qenv.other.address}


async def test_admin_filters_by_mailbox_and_tag_with_cursor(qenv: QEnv) -> None:
    await qenv.deliver(phishing(to=qenv.user.address))
    await qenv.deliver(exe_invoice(qenv.other.address, "Invoice 1"), to=qenv.other)
    await qenv.deliver(exe_invoice(qenv.other.address, "Invoice 2"), to=qenv.other)
    await qenv.deliver(phishing(to=qenv.other.address), to=qenv.other)
    s, csrf = await qenv.session(qenv.admin.address)
    base = qenv.base + "/api/quarantine?scope=tenant"
    async with s:
        async with s.get(base) as r:
            body = await r.json()
        assert len(body["items"]) == 4 and body["next"] is None
        async with s.get(base + "&rcpt=Other@acme-corp.cn") as r:
            got = (await r.json())["items"]
        assert len(got) == 3 and {i["account"] for i in got} == {qenv.other.address}
        async with s.get(base + "&rcpt=nobody@acme-corp.cn") as r:
            assert (await r.json())["items"] == []
        async with s.get(base + "&tag=IMPERSONATE_EXECUTIVE") as r:
            got = (await r.json())["items"]
        assert len(got) == 2
        assert all("IMPERSONATE_EXECUTIVE" in {t["name"] for t in i["tags"]} for i in got)
        async with s.get(base + "&tag=IMPERSONATE_EXECUTIVE&rcpt=other@acme-corp.cn") as r:
            [one] = (await r.json())["items"]
        assert one["account"] == qenv.other.address
        # paging: one row per page, the cursor walks every tagged row exactly once
        seen: list[int] = []
        cursor = ""
        while True:
            async with s.get(f"{base}&tag=ATTACH_DOUBLE_EXT&limit=1{cursor}") as r:
                page = await r.json()
            seen += [i["id"] for i in page["items"]]
            if page["next"] is None:
                break
            cursor = f"&before={page['next']}"
        assert len(seen) == 2 and len(set(seen)) == 2
        async with s.get(base + "&tag=bad tag") as r:
            assert r.status == 400
        # decisions answer with the same item shape
        async with s.post(
            f"{qenv.base}/api/quarantine/{one['id']}/release", headers={CSRF_HEADER: csrf}
        ) as r:
            done = await r.json()
        assert done["status"] == "released" and done["account"] == qenv.other.address
    # the filters are for admins only, as the tenant scope is
    s, _ = await qenv.session(qenv.user.address)
    async with s, s.get(base + "&rcpt=other@acme-corp.cn") as r:
        assert r.status == 403
