"""Rule analyzers on small synthetic messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rongmail.services.spam.context import ScanContext
from rongmail.services.spam.rules import auth_tags, content_tags, header_tags, structure_tags
from rongmail.services.spam.tags import registry

from .helpers import msg, raw_message

NOW = ScanContext(now=datetime(2026, 11, 27, tzinfo=UTC))


def names(tags: list) -> set[str]:  # type: ignore[type-arg]
    assert all(t.name in registry() for t in tags)
    return {t.name for t in tags}


def test_clean_message_has_no_header_tags() -> None:
    assert names(header_tags(msg(), NOW)) == set()


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({"date": None}, "MISSING_DATE"),
        ({"date": "blah blah"}, "INVALID_DATE"),
        ({"date": "Tue, 1 Jul 2003 10:52:37 +0200"}, "DATE_IN_PAST"),
        ({"date": "Tue, 1 Jul 2999 10:52:37 +0200"}, "DATE_IN_FUTURE"),
        ({"message_id": None}, "MISSING_MID"),
        ({"message_id": "<@domain.com>"}, "INVALID_MSGID"),
        ({"message_id": "hello@domain.com"}, "MID_MISSING_BRACKETS"),
        ({"message_id": "<a@127.0.0.1>"}, "MID_BARE_IP"),
        ({"message_id": "<a@[127.0.0.1]>"}, "MID_RHS_IP_LITERAL"),
        ({"message_id": "<a@localhost>"}, "MID_RHS_NOT_FQDN"),
        ({"subject": "BUY CHEAP WATCHES TODAY"}, "SUBJ_ALL_CAPS"),
        ({"headers": {"Reply-To": "x@other.example.net"}}, "REPLYTO_DIFF_DOMAIN"),
    ],
)
def test_header_anomalies(kw: dict, want: str) -> None:  # type: ignore[type-arg]
    assert want in names(header_tags(msg(**kw), NOW))


def test_chinese_subject_is_not_all_caps() -> None:
    assert "SUBJ_ALL_CAPS" not in names(header_tags(msg(subject="关于 ABC 项目的 OK 通知"), NOW))


@pytest.mark.parametrize(
    ("auth", "want"),
    [
        ({"spf": "pass", "dkim": "pass", "dmarc": "pass"}, {"SPF_PASS", "DKIM_PASS", "DMARC_PASS"}),
        ({"spf": "softfail"}, {"SPF_SOFTFAIL"}),
        (
            {"spf": "fail", "dmarc": "fail", "dmarc_policy": "reject"},
            {"SPF_FAIL", "DMARC_POLICY_REJECT"},
        ),
        ({"dmarc": "fail", "dmarc_policy": "quarantine"}, {"DMARC_POLICY_QUARANTINE"}),
        ({"dmarc": "fail"}, {"DMARC_FAIL"}),
        ({"dmarc": "none", "spf": "none"}, {"DMARC_NA", "SPF_NA"}),
        ({}, set()),
    ],
)
def test_auth_results(auth: dict[str, str], want: set[str]) -> None:
    assert names(auth_tags(msg(), ScanContext(auth=auth))) == want


def test_forged_own_domain() -> None:
    ctx = ScanContext(tenant_domains=frozenset({"rongmail.cn"}), auth={"spf": "fail"})
    m = msg(sender="Boss <ceo@rongmail.cn>")
    assert "FORGED_OWN_DOMAIN" in names(auth_tags(m, ctx))
    ok = ScanContext(
        tenant_domains=frozenset({"rongmail.cn"}), auth={"spf": "pass", "dmarc": "pass"}
    )
    assert "FORGED_OWN_DOMAIN" not in names(auth_tags(m, ok))


def test_html_only_and_short() -> None:
    m = msg(html="<html><body><p>Hi</p></body></html>", html_only=True)
    assert {"MIME_HTML_ONLY", "HTML_SHORT"} <= names(structure_tags(m, NOW))
    alt = msg(html="<p>Hi</p>")
    assert "MIME_HTML_ONLY" not in names(structure_tags(alt, NOW))


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ("see https://bit.ly/3abcd for details", "URL_SHORTENER"),
        ("详情 http://t.cn/A6xyz", "URL_SHORTENER"),
        ("log in at http://192.168.10.1/login", "URL_IP_HOST"),
    ],
)
def test_url_rules(body: str, want: str) -> None:
    assert want in names(structure_tags(msg(body=body), NOW))


def test_plain_link_is_fine() -> None:
    assert names(structure_tags(msg(body="docs: https://www.python.org/doc/"), NOW)) == set()


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("本公司长期代开增值税发票，点数优惠", "ZH_INVOICE"),
        ("可开各类普通发票，税点低，验证后付款", "ZH_INVOICE"),
        ("2026 年总裁班高级研修，名额有限，速报名", "ZH_TRAINING"),
        ("企业内训：《狼性销售》培训课程，报名费用 2800 元", "ZH_TRAINING"),
        ("有意者请加微信：abc12345", "ZH_CONTACT_IM"),
        ("加 V 信了解详情", "ZH_CONTACT_IM"),
        ("【广告】双十一大促", "ZH_AD_MARKER"),
        ("退订回T", "ZH_AD_MARKER"),
        ("恭喜您中奖了，请领取", "ZH_GET_RICH"),
        ("无抵押贷款，当天放款", "ZH_GET_RICH"),
    ],
)
def test_chinese_spam_patterns(text: str, want: str) -> None:
    assert want in names(content_tags(msg(body=text), NOW))


@pytest.mark.parametrize(
    "text",
    [
        "请财务部把上月的发票交给我核对。",  # an ordinary invoice mention
        "下周二的新员工培训安排在三楼。",  # internal training
        "我的微信已经发你了，周末见。",
        "附件是贷款合同的扫描件，请查收。",
    ],
)
def test_ordinary_business_mail_is_quiet(text: str) -> None:
    assert names(content_tags(msg(body=text), NOW)) == set()


def test_patterns_also_read_the_subject() -> None:
    m = msg(subject="代开发票 优惠", body="见附件")
    assert "ZH_INVOICE" in names(content_tags(m, NOW))


def test_gb2312_mail_is_decoded_for_patterns() -> None:
    raw = (
        b"From: a@example.com\nTo: b@rongmail.cn\nSubject: hi\nMIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=gb2312\nContent-Transfer-Encoding: 8bit\n\n"
    ) + "代开发票，欢迎来电".encode("gb2312")
    from rongmail.services.spam.message import parse

    assert "ZH_INVOICE" in names(content_tags(parse(raw), NOW))
    assert raw_message()  # helper sanity


def test_content_text_is_recomputed_when_the_message_changes() -> None:
    """content_text keeps its last answer only for the same message object with the same
    subject and text: another message, or a changed one, is computed afresh."""
    from rongmail.services.spam.rules import content_text, fold_case

    m = msg(subject="Hello", body="First BODY")
    want = ("Hello\n" + m.text_body, fold_case("Hello\n" + m.text_body))
    assert content_text(m) == want and "First BODY" in want[0]
    assert content_text(m) == want
    m.subject = "Changed"
    assert content_text(m)[0] == "Changed\n" + m.text_body
    m.text_body = "Other"
    assert content_text(m) == ("Changed\nOther", fold_case("Changed\nOther"))
    other = msg(subject="Hello", body="Second body")
    assert content_text(other)[0] == "Hello\n" + other.text_body
