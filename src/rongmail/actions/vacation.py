"""Vacation auto-reply actions (RFC 8621 §8 VacationResponse, RFC 3834): the write path of the
responder in :mod:`rongmail.pipeline.vacation`.

:func:`do_send_vacation_reply` claims the (account, sender) pair for the period
(:func:`rongmail.store.sql.vacation.claim_reply`, one transaction) and, only when the claim is
new, queues one reply through :func:`rongmail.actions.queue.do_enqueue_message` (DKIM signing
then happens in the queue like for any other mail). The caller has already decided that the
message deserves a reply (:func:`rongmail.pipeline.vacation.refusal`).

The reply (RFC 3834 §3):

* envelope: ``MAIL FROM:<>`` (§3.3 recommends a null return path, so a failing reply cannot
  start a bounce loop) to the original envelope sender (§3.1.1: responses go to the Return-Path);
* ``Auto-Submitted: auto-replied`` (§5), ``In-Reply-To``/``References`` (§3.1.3),
  ``From:`` the recipient's own address (§3.1.2), ``Subject:`` the VacationResponse's subject or
  the localized ``Auto: <original subject>`` (§3.1.5);
* body: ``textBody`` (derived from ``htmlBody`` when only that is set, RFC 8621 §8) and, when
  ``htmlBody`` is set, an HTML alternative run through the repo's nh3 sanitiser.

Queue rows are not account data: nothing is published on the change bus.
"""

from __future__ import annotations

import hashlib
import json
import time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid

from rongmail.actions.context import ActionContext
from rongmail.actions.queue import EnvelopeRecipient, do_enqueue_message
from rongmail.i18n import t
from rongmail.mime.html import html_to_text, sanitize_html
from rongmail.store.sql import directory as d
from rongmail.store.sql import vacation as vs
from rongmail.store.sql.jmap import VacationRow

#: RFC 3834 §2 suggests a period of several days; 7 days is the common choice (Sieve vacation).
DEFAULT_PERIOD = 7 * 24 * 3600


def fingerprint(v: VacationRow) -> str:
    """Identifies the VacationResponse settings: a new value means the user changed them, which
    restarts the "already replied" set."""
    data = [v.from_date, v.to_date, v.subject, v.text_body, v.html_body]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:32]


def build_reply(
    v: VacationRow,
    *,
    sender: str,
    own_address: str,
    display_name: str,
    locale: str,
    original_subject: str,
    original_message_id: str,
    original_references: str,
    now: int,
) -> bytes:
    """The auto-reply's bytes (RFC 3834 §3.1); pure."""
    domain = own_address.rpartition("@")[2] or "localhost"
    msg = EmailMessage()
    try:
        msg["From"] = Address(display_name=display_name, addr_spec=own_address)
    except (ValueError, IndexError):
        msg["From"] = own_address
    msg["To"] = sender
    subject = v.subject or t("vacation.reply.subject", locale, subject=original_subject.strip())
    msg["Subject"] = subject
    msg["Date"] = formatdate(now, localtime=False)
    msg["Message-ID"] = make_msgid(domain=domain)
    if original_message_id:
        msg["In-Reply-To"] = original_message_id
        msg["References"] = " ".join(x for x in (original_references, original_message_id) if x)
    msg["Auto-Submitted"] = "auto-replied"
    text = v.text_body
    if text is None:
        text = html_to_text(v.html_body) if v.html_body else t("vacation.reply.body", locale)
    msg.set_content(text)
    if v.html_body:
        msg.add_alternative(sanitize_html(v.html_body, allow_remote_images=False), subtype="html")
    return msg.as_bytes(policy=SMTP_POLICY)


async def do_send_vacation_reply(
    ctx: ActionContext,
    *,
    account_id: int,
    vacation: VacationRow,
    sender: str,
    original_subject: str,
    original_message_id: str,
    original_references: str,
    period: int = DEFAULT_PERIOD,
    now: int | None = None,
) -> int | None:
    """Queue the vacation reply of ``account_id`` to ``sender`` unless one was sent within
    ``period`` under the same settings; returns the queue id, or None when nothing was sent
    (already replied, or the account is gone or disabled)."""
    acct = await ctx.meta.read(d.get_account(account_id))
    if acct is None or acct.disabled:
        return None
    when = now if now is not None else int(time.time())
    claimed = await ctx.meta.write(
        vs.claim_reply(account_id, sender.lower(), fingerprint(vacation), when, period)
    )
    if not claimed:
        return None
    raw = build_reply(
        vacation,
        sender=sender,
        own_address=acct.address,
        display_name=acct.display_name,
        locale=acct.locale,
        original_subject=original_subject,
        original_message_id=original_message_id,
        original_references=original_references,
        now=when,
    )
    return await do_enqueue_message(
        ctx,
        tenant_id=acct.tenant_id,
        raw=raw,
        mail_from="",
        recipients=[EnvelopeRecipient(sender, notify="NEVER")],
        smtputf8=not (sender.isascii() and acct.address.isascii()),
        source="vacation",
        now=when,
    )
