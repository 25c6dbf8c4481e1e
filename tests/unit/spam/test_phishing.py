"""Phishing analyzers: impersonation, lookalikes, deceptive links, forms, payment changes."""

from __future__ import annotations

import pytest

from rongmail.services.spam.context import Person, ScanContext
from rongmail.services.spam.phishing import (
    damerau_levenshtein,
    is_homograph,
    lookalike_of,
    phishing_tags,
    skeleton,
)

from .helpers import msg

KNOWN = frozenset({"rongmail.cn", "chengdu-steel.com.cn", "partner-bank.com"})
CTX = ScanContext(
    tenant_domains=frozenset({"rongmail.cn"}),
    partner_domains=frozenset({"chengdu-steel.com.cn", "partner-bank.com"}),
    people=(
        Person("王建国", "wangjg@rongmail.cn", executive=True),
        Person("李娜", "lina@rongmail.cn"),
        Person("David Chen", "david@rongmail.cn", executive=True),
    ),
)


def names(tags: list) -> set[str]:  # type: ignore[type-arg]
    return {t.name for t in tags}


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("kitten", "sitting", 3), ("abcd", "abdc", 1), ("same", "same", 0), ("a", "abcdefgh", 4)],
)
def test_damerau_levenshtein(a: str, b: str, d: int) -> None:
    assert damerau_levenshtein(a, b, limit=3) == d


def test_skeleton_folds_confusables() -> None:
    assert skeleton("rnicrosoft.com") == skeleton("microsoft.com")
    assert skeleton("аpple.com") == "apple.com"  # Cyrillic a
    assert skeleton("ｇｏｏｇｌｅ.com") == "google.com"  # full width


@pytest.mark.parametrize(
    ("domain", "kind"),
    [
        ("rongmai1.cn", "lookalike"),
        ("r0ngmail.cn", "lookalike"),
        ("rongmial.cn", "lookalike"),
        ("rongmail.com", "lookalike"),
        ("chengdu-stee1.com.cn", "lookalike"),
        ("rοngmail.cn", "homograph"),  # Greek omicron
        ("xn--rngmail-8vf.cn", None),  # some other IDN: not a skeleton match
        ("mail.rongmail.cn", None),
        ("rongmail.cn", None),
        ("example.org", None),
        ("partner-bank.com", None),
    ],
)
def test_lookalike_of(domain: str, kind: str | None) -> None:
    hit = lookalike_of(domain, KNOWN)
    assert (hit[0] if hit else None) == kind


@pytest.mark.parametrize(
    ("host", "want"),
    [
        ("xn--80ak6aa92e.com", True),
        ("bánk.com", True),
        ("中文网.cn", False),
        ("example.com", False),
    ],
)
def test_is_homograph(host: str, want: bool) -> None:
    assert is_homograph(host) is want


def test_executive_impersonation_from_outside() -> None:
    m = msg(sender="王建国 <wjg.office@163.com>", body="在吗？有件急事需要你处理。")
    assert "IMPERSONATE_EXECUTIVE" in names(phishing_tags(m, CTX))


def test_colleague_impersonation_and_english_names() -> None:
    assert "IMPERSONATE_COLLEAGUE" in names(
        phishing_tags(msg(sender="李娜 <lina2026@qq.com>"), CTX)
    )
    m = msg(sender='"David Chen (CEO)" <ceo.office@gmail.com>')
    assert "IMPERSONATE_EXECUTIVE" in names(phishing_tags(m, CTX))


def test_real_colleague_is_not_flagged() -> None:
    m = msg(sender="王建国 <wangjg@rongmail.cn>")
    assert names(phishing_tags(m, CTX)) == set()


def test_lookalike_sender_and_reply_to() -> None:
    m = msg(sender="Finance <ap@chengdu-stee1.com.cn>")
    assert "LOOKALIKE_DOMAIN" in names(phishing_tags(m, CTX))
    m = msg(headers={"Reply-To": "boss@rongmai1.cn"})
    assert "LOOKALIKE_DOMAIN" in names(phishing_tags(m, CTX))
    m = msg(sender="IT <it@xn--80ak6aa92e.com>")
    assert "IDN_HOMOGRAPH" in names(phishing_tags(m, ScanContext()))


def test_link_text_mismatch() -> None:
    html = '<p>Log in: <a href="http://evil.example.net/login">https://www.partner-bank.com</a></p>'
    assert "LINK_TEXT_MISMATCH" in names(phishing_tags(msg(html=html), CTX))
    same = '<a href="https://www.partner-bank.com/x">partner-bank.com</a>'
    assert "LINK_TEXT_MISMATCH" not in names(phishing_tags(msg(html=same), CTX))
    plain = '<a href="https://evil.example.net/">click here</a>'
    assert "LINK_TEXT_MISMATCH" not in names(phishing_tags(msg(html=plain), CTX))


def test_link_to_lookalike_and_homograph() -> None:
    html = '<a href="https://partner-bank.co/login">Sign in</a> https://xn--80ak6aa92e.com/'
    got = names(phishing_tags(msg(html=html, body=html), CTX))
    assert {"LINK_LOOKALIKE", "URL_HOMOGRAPH"} <= got


def test_credential_form() -> None:
    html = '<form action="https://x.example/p"><input name=u><input type="password" name=p></form>'
    assert "HTML_CREDENTIAL_FORM" in names(phishing_tags(msg(html=html), CTX))
    assert "HTML_CREDENTIAL_FORM" not in names(phishing_tags(msg(html="<form></form>"), CTX))


@pytest.mark.parametrize(
    "body",
    [
        "因公司审计，原账户暂停使用，请将本期货款汇款至新账户：6222 0000 1111。",
        "我司已变更收款账户，请按新的银行账号付款。",
        "Please note our bank details have changed; kindly update the payment information.",
        "Kindly wire the outstanding amount to our new bank account below.",
    ],
)
def test_payment_change(body: str) -> None:
    first = ScanContext(first_time_sender=True)
    assert "PAYMENT_CHANGE_FIRST_TIME" in names(phishing_tags(msg(body=body), first))
    assert "PAYMENT_CHANGE_REQUEST" in names(phishing_tags(msg(body=body), ScanContext()))


def test_ordinary_payment_talk_is_quiet() -> None:
    body = "付款已经安排，请查收发票。The payment was sent yesterday."
    assert names(phishing_tags(msg(body=body), ScanContext(first_time_sender=True))) == set()
