"""A real client written by others: ``jmapc`` (PyPI) drives a read / search / send / flag /
move cycle against the server listening with TLS on 127.0.0.1 (jmapc always speaks HTTPS)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from jmap_helpers import PASSWORD, USER, USER2, JmapEnv

from peers import ports

pytestmark = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def _free_port() -> int:
    return ports.free_port("127.0.0.1")


def _cycle(host: str, inbox_subject: str) -> dict[str, Any]:
    import jmapc
    from jmapc import Ref
    from jmapc.methods import (
        EmailGet,
        EmailQuery,
        EmailSet,
        EmailSubmissionSet,
        IdentityGet,
        MailboxGet,
        MailboxQuery,
        SearchSnippetGet,
    )

    client = jmapc.Client.create_with_password(host=host, user=USER, password=PASSWORD)
    out: dict[str, Any] = {"account": client.account_id}
    # read: mailboxes, then the inbox page with previews
    boxes = client.request(MailboxGet(ids=None))
    by_role = {m.role: m.id for m in boxes.data}
    out["roles"] = set(by_role)
    page = client.request([
        MailboxQuery(filter=jmapc.MailboxQueryFilterCondition(role="inbox")),
        EmailQuery(filter=jmapc.EmailQueryFilterCondition(
            in_mailbox=Ref("/ids/0")), sort=[jmapc.Comparator(
                property="receivedAt", is_ascending=False)], limit=50),
        EmailGet(ids=Ref("/ids"), properties=["id", "subject", "preview", "keywords"]),
    ])
    emails = page[2].response.data
    out["inbox"] = [e.subject for e in emails]
    target = next(e for e in emails if e.subject == inbox_subject)
    # search, with a Chinese term and snippets
    found = client.request([
        EmailQuery(filter=jmapc.EmailQueryFilterCondition(text="发票")),
        SearchSnippetGet(ids=Ref("/ids"),
                         filter=jmapc.EmailQueryFilterCondition(text="发票")),
    ])
    out["search"] = found[0].response.ids
    out["snippet"] = found[1].response.data[0].subject
    # flag
    client.request(EmailSet(update={target.id: {"keywords/$flagged": True,
                                                "keywords/$seen": True}}))
    # move to archive
    client.request(EmailSet(update={target.id: {
        f"mailboxIds/{by_role['inbox']}": None, f"mailboxIds/{by_role['archive']}": True}}))
    moved = client.request(EmailGet(ids=[target.id], properties=["mailboxIds", "keywords"]))
    out["moved"] = moved.data[0]
    # send: create the draft, submit it, file it in Sent
    identity = client.request(IdentityGet(ids=None)).data[0]
    sent = client.request([
        EmailSet(create={"draft": jmapc.Email(
            mail_from=[jmapc.EmailAddress(name="Zhang San", email=USER)],
            to=[jmapc.EmailAddress(name="Li Si", email=USER2)], subject="jmapc 发送测试",
            keywords={"$draft": True}, mailbox_ids={by_role["drafts"]: True},
            body_values={"body": jmapc.EmailBodyValue(value="你好，来自 jmapc")},
            text_body=[jmapc.EmailBodyPart(part_id="body", type="text/plain")])}),
        EmailSubmissionSet(
            on_success_update_email={"#sendIt": {
                f"mailboxIds/{by_role['drafts']}": None,
                f"mailboxIds/{by_role['sent']}": True, "keywords/$draft": None}},
            create={"sendIt": jmapc.EmailSubmission(
                email_id="#draft", identity_id=identity.id,
                envelope=jmapc.Envelope(mail_from=jmapc.Address(email=USER),
                                        rcpt_to=[jmapc.Address(email=USER2)]))}),
    ])
    out["sent_methods"] = [r.response.__class__.__name__ for r in sent]
    out["submission"] = sent[1].response.created["sendIt"]
    out["draft"] = sent[0].response.created["draft"].id
    return out


async def test_jmapc_read_search_send_flag_move(jmap: JmapEnv, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jmapc")
    from rongmail.protocols import jmap as jmap_pkg
    from rongmail.protocols.http import login
    from rongmail.protocols.http.server import HttpDeps, build_http_app, start_http
    from rongmail.services.auth.authenticate import Authenticator
    from rongmail.services.tls.certs import server_context, write_self_signed

    write_self_signed(tmp_path / "c.pem", tmp_path / "k.pem", "localhost",
                      extra_names=["127.0.0.1"])
    # trust exactly the test certificate (requests reads this in every session)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "c.pem"))
    deps = HttpDeps(settings=jmap.ctx.settings, ctx=jmap.ctx, reader=jmap.reader,
                    auth=Authenticator(jmap.reader))
    app = build_http_app(deps, [login.register, jmap_pkg.register])
    port = _free_port()
    runner = await start_http(app, "127.0.0.1", port,
                              server_context(tmp_path / "c.pem", tmp_path / "k.pem"))
    try:
        await jmap.deliver("请查收三月发票", "发票在附件")
        await jmap.deliver("Weekly report", "numbers")
        out = await asyncio.to_thread(_cycle, f"127.0.0.1:{port}", "Weekly report")
    finally:
        await runner.cleanup()
    assert out["account"] == jmap.aid
    assert {"inbox", "sent", "drafts", "archive"} <= out["roles"]
    assert set(out["inbox"]) == {"请查收三月发票", "Weekly report"}
    assert len(out["search"]) == 1 and out["snippet"] == "请查收三月<mark>发票</mark>"
    archive = f"M{(await jmap.reader.mailbox_by_role(jmap.account.id, 'archive')).id}"
    assert out["moved"].mailbox_ids == {archive: True}
    assert out["moved"].keywords == {"$flagged": True, "$seen": True}
    assert out["sent_methods"] == ["EmailSetResponse", "EmailSubmissionSetResponse",
                                   "EmailSetResponse"]
    assert out["submission"].undo_status.value == "final"
    sent = await jmap.reader.mailbox_by_role(jmap.account.id, "sent")
    msgs = await jmap.reader.messages(jmap.account.id, [int(out["draft"][1:])])
    assert msgs[0].mailbox_ids == (sent.id,)
