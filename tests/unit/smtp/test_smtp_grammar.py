"""Command, path, parameter and SASL grammar (RFC 5321 §4.1.2, RFC 6531, RFC 3461, RFC 4616)."""

from __future__ import annotations

import pytest

from rongmail.protocols.smtp import codes
from rongmail.protocols.smtp.codes import ReplyError
from rongmail.protocols.smtp.proto import sasl
from rongmail.protocols.smtp.proto.command import parse_bdat_args, parse_helo_arg, split_command
from rongmail.protocols.smtp.proto.params import decode_xtext, parse_mail_params, parse_rcpt_params
from rongmail.protocols.smtp.proto.path import Mailbox, parse_path

BAD = codes.R501_RECIPIENT_SYNTAX


def test_split_command() -> None:
    assert split_command(b"mail FROM:<a@b>") == ("MAIL", "FROM:<a@b>")
    assert split_command(b"NOOP") == ("NOOP", "")
    for bad in (b"", b" NOOP", b"NO\x00OP", b"\xff\xfe", b"1234"):
        with pytest.raises(ReplyError):
            split_command(bad)


@pytest.mark.parametrize(
    ("text", "mailbox", "rest"),
    [
        ("<a@Example.COM>", Mailbox("a", "example.com"), ""),
        ("<A.b+c@x.example> SIZE=1", Mailbox("A.b+c", "x.example"), "SIZE=1"),
        ('<"a b"@x.example>', Mailbox('"a b"', "x.example"), ""),
        ("<@r1.example,@r2.example:u@x.example>", Mailbox("u", "x.example"), ""),
        ("<u@[192.0.2.1]>", Mailbox("u", "[192.0.2.1]"), ""),
        ("<u@[IPv6:2001:db8::1]>", Mailbox("u", "[IPv6:2001:db8::1]"), ""),
        ("<用户@例子.中国>", Mailbox("用户", "例子.中国"), ""),
        ("<postmaster>", Mailbox("postmaster", ""), ""),
    ],
)
def test_paths(text: str, mailbox: Mailbox, rest: str) -> None:
    assert parse_path(text, null_ok=False, bad=BAD) == (mailbox, rest)


@pytest.mark.parametrize(
    "text",
    [
        "a@b",
        "<a@b",
        "<a@@b>",
        "<a..b@x>",
        "<.a@x>",
        "<a@-x>",
        "<a@x>junk",
        "<a@[1.2.3]>",
        "<a@[IPv6:1.2.3.4]>",
        "<>",
        "<a b@x>",
        "<" + "a" * 65 + "@x>",
        "<a@" + "b" * 300 + ">",
    ],
)
def test_bad_paths(text: str) -> None:
    with pytest.raises(ReplyError) as e:
        parse_path(text, null_ok=False, bad=BAD)
    assert e.value.reply is BAD


def test_null_reverse_path() -> None:
    assert parse_path("<> SIZE=0", null_ok=True, bad=BAD) == (None, "SIZE=0")


def test_helo_arg() -> None:
    assert parse_helo_arg("mail.example.com") == "mail.example.com"
    assert parse_helo_arg("[192.0.2.1]") == "[192.0.2.1]"
    assert parse_helo_arg("[IPv6:::1]") == "[IPv6:::1]"
    for bad in ("", "a b", "[300.1.1.1]", "a..b", "-a"):
        with pytest.raises(ReplyError):
            parse_helo_arg(bad)


def test_bdat_args() -> None:
    assert parse_bdat_args("100") == (100, False)
    assert parse_bdat_args("0 last") == (0, True)
    for bad in ("", "-1", "x", "1 FIRST", "1e3", "9" * 19):
        assert parse_bdat_args(bad) is None


def test_mail_params() -> None:
    p = parse_mail_params("size=10 body=8bitmime smtputf8 RET=FULL ENVID=a+2Bb")
    assert (p.size, p.body, p.smtputf8, p.ret, p.envid) == (10, "8BITMIME", True, "FULL", "a+b")
    for bad, code in (
        ("SIZE=x", 501),
        ("SIZE=1 SIZE=2", 501),
        ("SMTPUTF8=1", 501),
        ("RET=ALL", 501),
        ("X-FOO=1", 555),
        ("BODY=BINARYMIME", 555),
        ("ENVID=+zz", 501),
        ("=1", 501),
    ):
        with pytest.raises(ReplyError) as e:
            parse_mail_params(bad)
        assert e.value.reply.code == code, bad


def test_rcpt_params() -> None:
    p = parse_rcpt_params("NOTIFY=DELAY,FAILURE ORCPT=rfc822;a+40b@c")
    assert p.notify == frozenset({"DELAY", "FAILURE"}) and p.orcpt == "rfc822;a@b@c"
    for bad in ("NOTIFY=", "NOTIFY=NEVER,DELAY", "ORCPT=rfc822", "ORCPT=;x", "SIZE=1"):
        with pytest.raises(ReplyError):
            parse_rcpt_params(bad)


def test_xtext() -> None:
    assert decode_xtext("a+2B+3Db") == "a+=b"
    with pytest.raises(ReplyError):
        decode_xtext("a+2")


def test_sasl_plain_and_login() -> None:
    plain = sasl.start("PLAIN")
    creds = plain.step(b"admin\0alice\0pw")
    assert creds == sasl.Credentials("alice", "pw", "admin")
    assert "pw" not in repr(creds)
    login = sasl.start("LOGIN")
    assert login.step(None) == b"Username:"
    assert login.step(b"alice") == b"Password:"
    assert login.step(b"pw") == sasl.Credentials("alice", "pw")
    with pytest.raises(ReplyError):
        sasl.start("CRAM-MD5")
    with pytest.raises(ReplyError):
        sasl.start("PLAIN").step(b"nonul")
    assert sasl.decode_b64("=") == b""
    with pytest.raises(ReplyError):
        sasl.decode_b64("!!")


def test_utf8_orcpt() -> None:
    assert parse_rcpt_params("ORCPT=utf-8;用户@例子.中国").orcpt == "utf-8;用户@例子.中国"


def test_client_key_groups_ipv6_by_64() -> None:
    from rongmail.protocols.smtp.server import client_key

    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("not-an-ip") == "not-an-ip"
