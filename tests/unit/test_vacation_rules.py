"""RFC 3834 decision of the vacation responder (``pipeline.vacation.refusal``/``active``) and
the reply it builds (``actions.vacation.build_reply``): pure functions, one test per rule."""

from __future__ import annotations

import email
from email.policy import default

import pytest

from rongmail.actions.vacation import build_reply, fingerprint
from rongmail.pipeline.vacation import active, refusal
from rongmail.store.sql.jmap import VacationRow

ME = "user@corp.test"
BASE = [("from", "Ext <ext@partner.example>"), ("to", f"Me <{ME}>"), ("subject", "Hi")]


def _v(**kw: object) -> VacationRow:
    vals: dict[str, object] = dict(
        account_id=1,
        is_enabled=True,
        from_date=None,
        to_date=None,
        subject=None,
        text_body="Away",
        html_body=None,
    )
    vals.update(kw)
    return VacationRow(**vals)  # type: ignore[arg-type]


def test_plain_message_gets_a_reply() -> None:
    assert refusal("ext@partner.example", BASE, {ME}) is None
    assert refusal("ext@partner.example", [*BASE, ("auto-submitted", "no")], {ME}) is None
    assert refusal("ext@partner.example", [*BASE, ("precedence", "first-class")], {ME}) is None
    cc = [("to", "other@x.example"), ("cc", f"{ME.upper()}")]
    assert refusal("ext@partner.example", cc, {ME}) is None


@pytest.mark.parametrize("mail_from", [None, "", "  ", "no-at-sign"])
def test_null_sender_refused(mail_from: str | None) -> None:
    assert refusal(mail_from, BASE, {ME}) == "null_sender"


@pytest.mark.parametrize(
    "value", ["auto-replied", "auto-generated", "auto-notified; owner=x", "Auto-Replied"]
)
def test_auto_submitted_refused(value: str) -> None:
    assert refusal("ext@partner.example", [*BASE, ("auto-submitted", value)], {ME}) == (
        "auto_submitted"
    )


@pytest.mark.parametrize("value", ["bulk", "list", "junk", " Bulk "])
def test_precedence_refused(value: str) -> None:
    assert refusal("ext@partner.example", [*BASE, ("precedence", value)], {ME}) == "precedence"


@pytest.mark.parametrize("name", ["list-id", "list-unsubscribe"])
def test_list_headers_refused(name: str) -> None:
    assert refusal("ext@partner.example", [*BASE, (name, "<x>")], {ME}) == "mailing_list"


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@partner.example",
        "postmaster@partner.example",
        "noreply@partner.example",
        "no-reply@partner.example",
        "no_reply-billing@partner.example",
        "donotreply@partner.example",
        "do-not-reply@partner.example",
        "bounce+abc@partner.example",
        "bounces@partner.example",
        "owner-team@partner.example",
        "team-request@partner.example",
        "listserv@partner.example",
    ],
)
def test_robot_senders_refused(sender: str) -> None:
    assert refusal(sender, BASE, {ME}) == "robot_sender"


def test_not_in_to_or_cc_refused() -> None:
    hdrs = [("from", "ext@partner.example"), ("to", "all@partner.example")]
    assert refusal("ext@partner.example", hdrs, {ME}) == "not_addressed"
    assert refusal("ext@partner.example", [("from", "ext@partner.example")], {ME}) == (
        "not_addressed"
    )


def test_own_mail_refused() -> None:
    assert refusal(ME.upper(), BASE, {ME}) == "self"


def test_window_is_half_open() -> None:
    assert active(_v(), 100)
    assert not active(_v(is_enabled=False), 100)
    assert active(_v(from_date=100, to_date=200), 100)
    assert not active(_v(from_date=100, to_date=200), 99)
    assert active(_v(from_date=100, to_date=200), 199)
    assert not active(_v(from_date=100, to_date=200), 200)


def test_fingerprint_changes_with_settings() -> None:
    assert fingerprint(_v()) == fingerprint(_v())
    assert fingerprint(_v()) != fingerprint(_v(text_body="Back Monday"))
    assert fingerprint(_v()) != fingerprint(_v(to_date=5))


def _reply(v: VacationRow, locale: str = "en") -> email.message.EmailMessage:
    raw = build_reply(
        v,
        sender="ext@partner.example",
        own_address=ME,
        display_name="Li Na",
        locale=locale,
        original_subject="Quarterly report",
        original_message_id="<m2@partner.example>",
        original_references="<m1@partner.example>",
        now=1_800_000_000,
    )
    return email.message_from_bytes(raw, policy=default)  # type: ignore[return-value]


def test_reply_headers_rfc3834() -> None:
    m = _reply(_v())
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["In-Reply-To"] == "<m2@partner.example>"
    assert m["References"] == "<m1@partner.example> <m2@partner.example>"
    assert m["From"].addresses[0].addr_spec == ME
    assert m["To"] == "ext@partner.example"
    assert m["Subject"] == "Auto: Quarterly report"
    assert m.get_content().strip() == "Away"
    assert _reply(_v(subject="Out of office"))["Subject"] == "Out of office"
    zh = _reply(_v(), "zh-CN")["Subject"]
    assert zh.endswith("Quarterly report") and not zh.startswith("Auto:")


def test_reply_html_is_sanitized_and_text_derived() -> None:
    m = _reply(
        _v(
            text_body=None,
            html_body='<p onclick="x()">Away <script>bad()</script>until <b>Monday</b></p>',
        )
    )
    assert m.get_content_type() == "multipart/alternative"
    plain = m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = m.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Monday" in plain and "<b>" not in plain
    assert "<b>Monday</b>" in html and "script" not in html and "onclick" not in html
