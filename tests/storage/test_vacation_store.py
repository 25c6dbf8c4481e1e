"""The vacation responder's "already replied" set (migration 0104) on every backend: one reply
per sender per period, restarted when the VacationResponse changes, and queued with RFC 3834
headers from ``MAIL FROM:<>``."""

from __future__ import annotations

import email
from email.policy import default

from rongmail.actions import accounts as acc
from rongmail.actions.jmap import do_set_vacation
from rongmail.actions.vacation import do_send_vacation_reply
from rongmail.store.sql import queue as qs
from rongmail.store.sql import vacation as vs
from rongmail.store.sql.jmap import VacationRow


def _v(account_id: int, text: str = "Away") -> VacationRow:
    return VacationRow(account_id, True, None, None, None, text, None)


async def _user(stack):  # type: ignore[no-untyped-def]
    t = await acc.do_create_tenant(stack.ctx, "demo")
    await acc.do_create_domain(stack.ctx, t.id, "demo.test")
    return t, await acc.do_create_account(stack.ctx, "user@demo.test", "Secret-pass-123")


async def test_claim_once_per_period_and_reset_on_change(stack) -> None:  # type: ignore[no-untyped-def]
    t, user = await _user(stack)
    meta = stack.ctx.meta
    assert await meta.write(vs.claim_reply(user.id, "a@x.example", "f1", 1000, 100))
    assert not await meta.write(vs.claim_reply(user.id, "a@x.example", "f1", 1050, 100))
    assert await meta.write(vs.claim_reply(user.id, "b@x.example", "f1", 1050, 100))
    # the period ran out: a new reply is allowed
    assert await meta.write(vs.claim_reply(user.id, "a@x.example", "f1", 1100, 100))
    # the settings changed: everyone may get the new text
    assert await meta.write(vs.claim_reply(user.id, "b@x.example", "f2", 1101, 100))
    assert await meta.read(vs.replied_senders(user.id)) == [("b@x.example", 1101)]


async def test_reply_is_queued_once(stack) -> None:  # type: ignore[no-untyped-def]
    t, user = await _user(stack)
    args = dict(
        account_id=user.id,
        sender="Ext@Partner.example",
        original_subject="Hi",
        original_message_id="<m1@partner.example>",
        original_references="",
    )
    qid = await do_send_vacation_reply(stack.ctx, vacation=_v(user.id), **args)  # type: ignore[arg-type]
    assert qid is not None
    assert await do_send_vacation_reply(stack.ctx, vacation=_v(user.id), **args) is None  # type: ignore[arg-type]
    m = await stack.ctx.meta.read(qs.get_message(qid))
    assert m.mail_from == "" and m.source == "vacation"
    [r] = await stack.ctx.meta.read(qs.recipients_of(qid))
    assert r.rcpt == "Ext@Partner.example"
    msg = email.message_from_bytes(await stack.ctx.blobs.get(t.id, m.blob_id), policy=default)
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<m1@partner.example>"
    changed = _v(user.id, "Back on Monday")
    assert await do_send_vacation_reply(stack.ctx, vacation=changed, **args) is not None  # type: ignore[arg-type]


async def test_setting_the_response_again_resets_the_replied_set(stack) -> None:  # type: ignore[no-untyped-def]
    t, user = await _user(stack)
    meta = stack.ctx.meta
    assert await meta.write(vs.claim_reply(user.id, "a@x.example", "f1", 1000, 100))
    assert not await meta.write(vs.claim_reply(user.id, "a@x.example", "f1", 1001, 100))
    # switched off and on again with the very same text (same fingerprint): a fresh set
    await do_set_vacation(stack.ctx, VacationRow(user.id, False, None, None, None, "Away", None))
    await do_set_vacation(stack.ctx, _v(user.id))
    assert await meta.read(vs.replied_senders(user.id)) == []
    assert await meta.write(vs.claim_reply(user.id, "a@x.example", "f1", 1002, 100))
