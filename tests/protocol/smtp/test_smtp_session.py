"""SMTP session transcripts without sockets: bytes in, reply bytes out (RFC 5321, 2920, 3030,
3207, 4954, 6531, 3461). Socket-level tests are in test_smtp_server.py."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest
from smtp_fakes import codes_of, make_session

from rongmail.pipeline.envelope import Listener
from rongmail.pipeline.stage import Checkpoint

EHLO = b"EHLO client.example.net\r\n"
TX = b"MAIL FROM:<sender@example.net>\r\nRCPT TO:<alice@example.com>\r\n"


async def greeted(**kw: object):  # type: ignore[no-untyped-def]
    s, d = make_session(**kw)  # type: ignore[arg-type]
    out = await s.start()
    assert out.data.startswith(b"220 mx.example.com ESMTP")
    await s.receive(EHLO)
    return s, d


async def test_ehlo_lists_extensions_mx() -> None:
    s, _ = make_session()
    await s.start()
    out = await s.receive(EHLO)
    lines = out.data.decode().split("\r\n")
    assert lines[0] == "250-mx.example.com greets client.example.net"
    keywords = {line[4:] for line in lines if line}
    for kw in (
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "STARTTLS",
        f"SIZE {s.settings.max_message_size}",
    ):
        assert kw in keywords
    assert not any(k.startswith("AUTH") for k in keywords), "no AUTH on the MX port by default"
    assert lines[-2].startswith("250 ")


async def test_submission_offers_auth_only_after_tls() -> None:
    s, _ = make_session(listener=Listener.SUBMISSION)
    await s.start()
    out = await s.receive(EHLO)
    assert b"AUTH" not in out.data and b"STARTTLS" in out.data
    out = await s.receive(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0s3cret") + b"\r\n")
    assert codes_of(out.data) == ["538 5.7.11"]
    out = await s.receive(b"MAIL FROM:<alice@example.com>\r\n")
    assert codes_of(out.data) == ["530 5.7.0"]
    s2, _ = make_session(listener=Listener.SUBMISSION, tls=True)
    await s2.start()
    out = await s2.receive(EHLO)
    assert b"250 AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2" in out.data and b"STARTTLS" not in out.data


async def test_simple_transaction_is_delivered_after_commit() -> None:
    s, d = await greeted()
    out = await s.receive(TX + b"DATA\r\n")
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "354"]
    out = await s.receive(b"Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n")
    assert codes_of(out.data) == ["250 2.0.0"]
    assert out.data == b"250 2.0.0 OK queued as Q1\r\n"
    assert d.messages == [b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n"]
    env, verdict = d.delivered[0]
    assert env.mail_from == "sender@example.net"
    assert [r.resolution.account_ids for r in env.rcpts] == [(1,)]
    assert env.trace.startswith(b"Received: from client.example.net ([192.0.2.10])")
    assert b"with ESMTP id TEST" in env.trace and b"for <alice@example.com>" in env.trace


async def test_250_waits_for_durable_commit() -> None:
    s, d = await greeted()
    d.gate = asyncio.Event()
    await s.receive(TX + b"DATA\r\n")
    task = asyncio.create_task(s.receive(b"x\r\n.\r\n"))
    await asyncio.sleep(0.05)
    assert not task.done(), "no reply may be sent before delivery commits"
    d.gate.set()
    out = await task
    assert codes_of(out.data) == ["250 2.0.0"]


async def test_delivery_failure_is_temporary() -> None:
    s, d = await greeted()
    d.fail = True
    await s.receive(TX + b"DATA\r\n")
    out = await s.receive(b"x\r\n.\r\n")
    assert codes_of(out.data) == ["451 4.3.0"]


async def test_pipelined_group_answered_in_order_in_one_output() -> None:
    s, d = await greeted()
    out = await s.receive(
        b"MAIL FROM:<a@example.net>\r\nRCPT TO:<alice@example.com>\r\n"
        b"RCPT TO:<nobody@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
    )
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"]
    out = await s.receive(
        b"hi\r\n.\r\nMAIL FROM:<b@example.net>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
    )
    assert codes_of(out.data) == ["250 2.0.0", "250 2.1.0", "250 2.1.5", "354"]
    out = await s.receive(b"second\r\n.\r\nQUIT\r\n")
    assert codes_of(out.data) == ["250 2.0.0", "221 2.0.0"] and out.close
    assert d.messages == [b"hi\r\n", b"second\r\n"]


async def test_data_refused_keeps_following_commands_as_commands() -> None:
    s, d = await greeted()
    out = await s.receive(
        b"MAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.com>\r\nDATA\r\nNOOP\r\n"
    )
    assert codes_of(out.data) == ["250 2.1.0", "550 5.1.1", "554 5.5.1", "250 2.0.0"]
    assert not d.delivered


async def test_directory_forms() -> None:
    s, d = await greeted()
    out = await s.receive(
        b"MAIL FROM:<a@example.net>\r\n"
        b"RCPT TO:<Alice+News@EXAMPLE.com>\r\n"  # plus-addressing, case
        b"RCPT TO:<sales@example.com>\r\n"  # group
        b"RCPT TO:<anything@example.org>\r\n"  # catch-all
        b"RCPT TO:<gone@example.com>\r\n"  # disabled
        b"RCPT TO:<Postmaster>\r\n"  # RFC 5321 §4.5.1
        b"RCPT TO:<@relay.example.net:bob@example.com>\r\n"  # source route ignored
    )
    assert codes_of(out.data) == [
        "250 2.1.0",
        "250 2.1.5",
        "250 2.1.5",
        "250 2.1.5",
        "550 5.2.1",
        "250 2.1.5",
        "250 2.1.5",
    ]
    assert s.tx is not None
    assert [r.resolution.account_ids for r in s.tx.rcpts] == [(1,), (1, 2), (2,), (1,), (2,)]


@pytest.mark.parametrize(
    "rcpt",
    [
        b"<victim@remote.example>",
        b"<victim%remote.example@example.com>",  # percent hack: an unknown local user
        b"<remote.example!victim@example.com>",  # bang path: an unknown local user
        b"<@example.com:victim@remote.example>",  # source route through us
        b"<victim@[198.51.100.7]>",  # address literal
        b'<"victim@remote.example"@example.com>',  # quoted local part
        b"<victim@example.com.remote.example>",  # our name as a prefix
        b"<victim@remote.example.>",  # trailing dot
    ],
)
async def test_not_an_open_relay(rcpt: bytes) -> None:
    s, d = await greeted()
    out = await s.receive(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:" + rcpt + b"\r\nDATA\r\n")
    replies = codes_of(out.data)
    assert replies[0] == "250 2.1.0"
    assert replies[1] in ("554 5.7.1", "550 5.1.1", "501 5.1.3"), replies
    assert replies[2] == "554 5.5.1"
    assert not d.delivered


async def test_relay_after_auth_allowed_and_sender_must_be_owned() -> None:
    s, d = make_session(listener=Listener.SUBMISSION, tls=True)
    await s.start()
    await s.receive(EHLO)
    out = await s.receive(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0s3cret") + b"\r\n")
    assert codes_of(out.data) == ["235 2.7.0"]
    out = await s.receive(b"MAIL FROM:<bob@example.com>\r\n")
    assert codes_of(out.data) == ["553 5.7.1"]
    out = await s.receive(b"MAIL FROM:<>\r\n")
    assert codes_of(out.data) == ["550 5.7.1"]
    out = await s.receive(
        b"MAIL FROM:<sales@example.com>\r\nRCPT TO:<friend@remote.example>\r\nDATA\r\n"
    )
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "354"]
    out = await s.receive(b"hello\r\n.\r\n")
    assert codes_of(out.data) == ["250 2.0.0"]
    env = d.delivered[0][0]
    assert env.auth is not None and env.auth.account_id == 1
    assert b"with ESMTPSA" in env.trace


async def test_failed_auth_does_not_open_relay() -> None:
    s, d = make_session(listener=Listener.MX, auth_on_mx=True, tls=True)
    await s.start()
    await s.receive(EHLO)
    out = await s.receive(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0wrong") + b"\r\n")
    assert codes_of(out.data) == ["535 5.7.8"]
    out = await s.receive(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<v@remote.example>\r\n")
    assert codes_of(out.data) == ["250 2.1.0", "554 5.7.1"]


async def test_auth_login_and_cancel_and_lockout() -> None:
    s, _ = make_session(listener=Listener.SUBMISSION, tls=True, max_auth_failures=2)
    await s.start()
    await s.receive(EHLO)
    out = await s.receive(b"AUTH LOGIN\r\n")
    assert out.data == b"334 VXNlcm5hbWU6\r\n"
    out = await s.receive(b"*\r\n")
    assert codes_of(out.data) == ["501 5.7.0"]
    out = await s.receive(b"AUTH LOGIN " + base64.b64encode(b"alice") + b"\r\n")
    assert out.data == b"334 UGFzc3dvcmQ6\r\n"
    out = await s.receive(b"not base64!\r\n")
    assert codes_of(out.data) == ["501 5.5.2"]
    out = await s.receive(b"AUTH PLAIN\r\n")
    assert out.data == b"334 \r\n"
    out = await s.receive(base64.b64encode(b"\0alice\0bad") + b"\r\n")
    assert codes_of(out.data) == ["535 5.7.8"]
    out = await s.receive(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0bad2") + b"\r\n")
    assert codes_of(out.data) == ["535 5.7.8", "421 4.7.0"] and out.close


async def test_auth_success_login_and_no_second_auth() -> None:
    s, _ = make_session(listener=Listener.SUBMISSIONS, tls=True)
    await s.start()
    await s.receive(EHLO)
    await s.receive(b"AUTH LOGIN\r\n")
    await s.receive(base64.b64encode(b"alice") + b"\r\n")
    out = await s.receive(base64.b64encode(b"s3cret") + b"\r\n")
    assert codes_of(out.data) == ["235 2.7.0"]
    out = await s.receive(b"AUTH PLAIN =\r\n")
    assert codes_of(out.data) == ["503 5.5.1"]


async def test_auth_backend_unavailable_is_454() -> None:
    s, _ = make_session(listener=Listener.SUBMISSIONS, tls=True)
    await s.start()
    await s.receive(EHLO)
    out = await s.receive(b"AUTH PLAIN " + base64.b64encode(b"\0broken\0x") + b"\r\n")
    assert codes_of(out.data) == ["454 4.7.0"]


# -- SMTP smuggling (CVE-2023-51766 class) --------------------------------------------------

SMUGGLED = b"MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSpoofed\r\n"


@pytest.mark.parametrize(
    "fake_end",
    [
        b"\n.\n",
        b"\n.\r\n",
        b"\r.\r",
        b"\r.\r\n",
        b"\r\n.\n",
        b"\r\n.\r",
        b"\n..\n",
        b"\r\n\x00.\r\n",
    ],
)
async def test_smuggling_never_splits_a_message(fake_end: bytes) -> None:
    s, d = await greeted()
    await s.receive(TX + b"DATA\r\n")
    out = await s.receive(b"Subject: real\r\n\r\nbody" + fake_end + SMUGGLED + b".\r\nQUIT\r\n")
    replies = codes_of(out.data)
    assert replies[-1] == "221 2.0.0"
    assert "354" not in replies, "the smuggled DATA must never be seen as a command"
    assert all(m.startswith(b"Subject: real") for m in d.messages), "no second message"
    if d.delivered:  # only a content-clean variant may be accepted, and then as ONE message
        assert len(d.delivered) == 1 and b"evil@remote.example" in d.messages[0]
    else:
        assert replies[0] == "554 5.6.0"


async def test_bare_lf_anywhere_rejects_whole_message() -> None:
    s, d = await greeted()
    await s.receive(TX + b"DATA\r\n")
    out = await s.receive(b"a\nb\r\n.\r\n")
    assert codes_of(out.data) == ["554 5.6.0"] and not d.delivered
    out = await s.receive(b"RSET\r\n")
    assert codes_of(out.data) == ["250 2.0.0"]


async def test_data_split_across_reads_at_every_point() -> None:
    payload = TX + b"DATA\r\n" + b"l1\r\n..l2\r\n.\r\nQUIT\r\n"
    for cut in range(len(payload)):
        s, d = await greeted()
        out1 = await s.receive(payload[:cut])
        out2 = await s.receive(payload[cut:])
        assert codes_of(out1.data + out2.data) == [
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0",
            "221 2.0.0",
        ]
        assert d.messages == [b"l1\r\n.l2\r\n"]


# -- BDAT / CHUNKING (RFC 3030) -------------------------------------------------------------


async def test_bdat_pipelined_chunks() -> None:
    s, d = await greeted()
    out = await s.receive(TX + b"BDAT 6\r\nHello BDAT 7 LAST\r\nworld\r\n")
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"]
    assert b"6 octets received" in out.data
    assert d.messages == [b"Hello world\r\n"]


async def test_bdat_without_transaction_consumes_chunk() -> None:
    s, d = await greeted()
    out = await s.receive(b"BDAT 12 LAST\r\nRSET\r\nQUIT\r\nNOOP\r\n")
    assert codes_of(out.data) == ["503 5.5.1", "250 2.0.0"]
    assert not d.delivered


async def test_bdat_zero_last_and_data_after_bdat() -> None:
    s, d = await greeted()
    out = await s.receive(TX + b"BDAT 3\r\nab\nDATA\r\n")
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1"]
    out = await s.receive(b"BDAT 0 LAST\r\n")
    assert codes_of(out.data) == ["554 5.6.0"], "bare LF in BDAT content is refused too"
    out = await s.receive(TX + b"BDAT 0 LAST\r\n")
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "250 2.0.0"]
    assert d.messages == [b""]


async def test_bdat_bad_size_closes() -> None:
    s, _ = await greeted()
    out = await s.receive(TX + b"BDAT ten\r\nNOOP\r\n")
    assert codes_of(out.data)[-1] == "501 5.5.4" and out.close


async def test_bdat_crlf_split_across_chunks_is_clean() -> None:
    s, d = await greeted()
    out = await s.receive(TX + b"BDAT 2\r\na\rBDAT 3 LAST\r\n\nb\r")
    assert codes_of(out.data)[-1] == "554 5.6.0"  # ends in a bare CR
    out = await s.receive(TX + b"BDAT 2\r\na\rBDAT 4 LAST\r\n\nb\r\n")
    assert codes_of(out.data)[-1] == "250 2.0.0"
    assert d.messages == [b"a\r\nb\r\n"]


# -- STARTTLS (RFC 3207, CVE-2011-0411) -----------------------------------------------------


async def test_starttls_discards_pipelined_plaintext() -> None:
    s, d = await greeted()
    out = await s.receive(b"STARTTLS\r\n" + TX + b"DATA\r\ninjected\r\n.\r\n")
    assert out.data == b"220 2.0.0 Ready to start TLS\r\n" and out.starttls
    assert s.parser.buffered == 0
    s.tls_started(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384")
    out = await s.receive(b"MAIL FROM:<a@example.net>\r\n")
    assert codes_of(out.data) == ["503 5.5.1"], "EHLO state is forgotten after TLS"
    out = await s.receive(EHLO)
    assert b"STARTTLS" not in out.data
    assert not d.delivered


async def test_starttls_refusals() -> None:
    s, _ = await greeted(tls_available=False)
    out = await s.receive(b"STARTTLS\r\nNOOP\r\n")
    assert codes_of(out.data) == ["454 4.7.0", "250 2.0.0"]
    s, _ = await greeted(tls=True)
    out = await s.receive(b"STARTTLS\r\n")
    assert codes_of(out.data) == ["503 5.5.1"]


# -- syntax, parameters, limits ---------------------------------------------------------------


async def test_sequence_and_syntax_errors() -> None:
    s, _ = make_session()
    await s.start()
    out = await s.receive(b"MAIL FROM:<a@b.example>\r\nFOO\r\nEHLO\r\nHELO a b\r\n")
    assert codes_of(out.data) == ["503 5.5.1", "500 5.5.2", "501 5.5.4", "501 5.5.4"]
    await s.receive(EHLO)
    out = await s.receive(
        b"RCPT TO:<alice@example.com>\r\nMAIL FROM:a@b.example\r\nMAIL FROM:<a@@b>\r\n"
        b"MAIL FROM:<a@example.net>\r\nMAIL FROM:<b@example.net>\r\nRCPT TO:<alice>\r\n"
        b"DATA x\r\nVRFY alice\r\nEXPN sales\r\nHELP\r\nNOOP hi\r\n"
    )
    assert codes_of(out.data) == [
        "503 5.5.1",
        "501 5.1.7",
        "501 5.1.7",
        "250 2.1.0",
        "503 5.5.1",
        "501 5.1.3",
        "501 5.5.4",
        "502 5.5.1",
        "502 5.5.1",
        "214 2.0.0",
        "250 2.0.0",
    ]


async def test_esmtp_parameters() -> None:
    s, _ = await greeted()
    out = await s.receive(
        b"MAIL FROM:<a@example.net> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 AUTH=<>\r\n"
        b"RCPT TO:<alice@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+2B1@example.com\r\n"
        b"RCPT TO:<bob@example.com> NOTIFY=NEVER\r\n"
        b"RCPT TO:<bob@example.com> NOTIFY=NEVER,SUCCESS\r\nRCPT TO:<bob@example.com> FOO=1\r\n"
    )
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "501 5.5.4", "555 5.5.4"]
    assert s.tx is not None
    assert s.tx.params.envid == "QQ+1" and s.tx.params.ret == "HDRS" and s.tx.params.size == 1000
    assert s.tx.rcpts[0].orcpt == "rfc822;alice+1@example.com"
    assert s.tx.rcpts[0].notify == frozenset({"SUCCESS", "FAILURE"})
    assert s.tx.rcpts[1].notify == frozenset()
    out = await s.receive(b"RSET\r\nMAIL FROM:<a@example.net> BODY=BINARYMIME\r\n")
    assert codes_of(out.data) == ["250 2.0.0", "555 5.5.4"]


async def test_helo_client_gets_no_extensions() -> None:
    s, _ = make_session()
    await s.start()
    out = await s.receive(b"HELO client\r\nMAIL FROM:<a@example.net> SIZE=10\r\n")
    assert codes_of(out.data) == ["250", "555 5.5.4"]


async def test_smtputf8() -> None:
    s, d = await greeted()
    out = await s.receive("MAIL FROM:<用户@例子.中国>\r\n".encode())
    assert codes_of(out.data) == ["553 5.6.7"]
    out = await s.receive(
        "MAIL FROM:<用户@例子.中国> SMTPUTF8\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n".encode()
    )
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "354"]
    out = await s.receive("Subject: 你好\r\n\r\n.\r\n".encode())
    assert codes_of(out.data) == ["250 2.0.0"]
    assert b"with UTF8SMTP" in d.delivered[0][0].trace


async def test_size_limits() -> None:
    s, d = await greeted(max_message_size=2048)
    out = await s.receive(b"MAIL FROM:<a@example.net> SIZE=4096\r\n")
    assert codes_of(out.data) == ["552 5.3.4"]
    await s.receive(TX + b"DATA\r\n")
    for _ in range(10):
        await s.receive(b"x" * 998 + b"\r\n")
    assert s.tx is not None and len(s.tx.body) == 0, "memory is released past the limit"
    out = await s.receive(b".\r\n")
    assert codes_of(out.data) == ["552 5.3.4"] and not d.delivered
    out = await s.receive(TX + b"BDAT 4000 LAST\r\n" + b"y" * 4000)
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "552 5.3.4"]


async def test_line_length_and_bare_lf_commands() -> None:
    s, _ = await greeted(max_line_length=512)
    out = await s.receive(b"NOOP " + b"x" * 600 + b"\r\nNOOP\nNOOP\r\n")
    assert codes_of(out.data) == ["500 5.5.2", "500 5.5.2", "250 2.0.0"]


async def test_recipient_limit() -> None:
    s, _ = await greeted(max_recipients=2)
    out = await s.receive(b"MAIL FROM:<a@example.net>\r\n" + b"RCPT TO:<alice@example.com>\r\n" * 3)
    assert codes_of(out.data) == ["250 2.1.0", "250 2.1.5", "250 2.1.5", "452 4.5.3"]


async def test_error_limit_closes() -> None:
    s, _ = await greeted(max_errors=3)
    out = await s.receive(b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n")
    assert codes_of(out.data) == ["500 5.5.2", "500 5.5.2", "500 5.5.2", "421 4.7.0"] and out.close


async def test_command_limit_closes() -> None:
    s, _ = await greeted(max_commands=10)
    out = await s.receive(b"NOOP\r\n" * 20)
    assert codes_of(out.data)[-1] == "421 4.7.0" and out.close
    assert codes_of(out.data).count("250 2.0.0") == 9  # EHLO was the first command


async def test_quit_ignores_rest() -> None:
    s, _ = await greeted()
    out = await s.receive(b"QUIT\r\nNOOP\r\n")
    assert codes_of(out.data) == ["221 2.0.0"] and out.close


async def test_deny_networks_refuses_at_connect() -> None:
    s, _ = make_session(deny_networks=("192.0.2.0/24",))
    out = await s.start()
    assert codes_of(out.data) == ["554 5.7.1"] and out.close


async def test_forged_helo_on_mx() -> None:
    s, _ = make_session()
    await s.start()
    out = await s.receive(b"EHLO mx.example.com\r\nMAIL FROM:<a@example.net>\r\n")
    assert codes_of(out.data) == ["550 5.7.1", "503 5.5.1"]


async def test_rate_limit_per_ip() -> None:
    s, _ = await greeted(messages_per_minute_per_ip=2)
    out = await s.receive((b"MAIL FROM:<a@example.net>\r\nRSET\r\n") * 3)
    assert codes_of(out.data) == ["250 2.1.0", "250 2.0.0"] * 2 + ["451 4.7.1", "250 2.0.0"]


async def test_stage_crash_is_temporary() -> None:
    s, d = await greeted()

    class Boom:
        name = "boom"
        checkpoints = frozenset({Checkpoint.DATA})

        async def check(self, point, env):  # type: ignore[no-untyped-def]
            raise RuntimeError("bug")

    from rongmail.pipeline.runner import Runner

    s.services = type(s.services)(Runner([Boom()]), s.services.directory, s.services.delivery)
    await s.receive(TX + b"DATA\r\n")
    out = await s.receive(b"x\r\n.\r\n")
    assert codes_of(out.data) == ["451 4.7.1"] and not d.delivered


async def test_http_request_is_cut_off() -> None:
    s, _ = make_session()
    await s.start()
    out = await s.receive(b"POST / HTTP/1.1\r\nHost: mx\r\n\r\nMAIL FROM:<a@b.example>\r\n")
    assert codes_of(out.data) == ["554 5.7.0"] and out.close


async def test_connect_tempfail_is_421() -> None:
    s, _ = make_session()

    class Busy:
        name = "busy"
        checkpoints = frozenset({Checkpoint.CONNECT})

        async def check(self, point, env):  # type: ignore[no-untyped-def]
            from rongmail.pipeline.stage import tempfail

            return tempfail(self.name, "load.high")

    from rongmail.pipeline.runner import Runner

    s.services = type(s.services)(Runner([Busy()]), s.services.directory, s.services.delivery)
    out = await s.start()
    assert codes_of(out.data) == ["421 4.7.0"] and out.close


async def test_secrets_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    s, _ = make_session(listener=Listener.SUBMISSION, tls=True)
    await s.start()
    await s.receive(EHLO)
    for password in (b"wrong-pw-1", b"s3cret"):
        await s.receive(b"AUTH LOGIN\r\n")
        await s.receive(base64.b64encode(b"alice") + b"\r\n")
        await s.receive(base64.b64encode(password) + b"\r\n")
    await s.receive(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    await s.receive(b"x\r\n.\r\n")
    assert "accepted id=Q1" in caplog.text
    for secret in ("wrong-pw-1", "s3cret", base64.b64encode(b"s3cret").decode()):
        assert secret not in caplog.text
