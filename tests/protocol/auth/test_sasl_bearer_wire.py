"""OAuth bearer logins (SASL OAUTHBEARER, RFC 7628, and XOAUTH2) over real sockets against
``rongmail serve``, with the standard-library clients: imaplib ``authenticate``, smtplib
``auth`` and raw POP3 ``AUTH`` (RFC 5034). A valid token logs in; an expired, forged or
another user's token gets the RFC 7628 §3.2.2 JSON error challenge, the client's dummy
``AQ==`` answer, then the protocol's failure reply with the public text. Also: the failure
replies of password logins carry the error's text (SMTP 535 5.7.8 with the risk refusal,
POP3 ``-ERR [AUTH]``).

Tokens are issued the way the product issues them (``actions.jmap.do_create_token`` on the
server's own data directory), not faked."""

from __future__ import annotations

import asyncio
import base64
import imaplib
import json
import smtplib
import socket
import ssl

import pytest
from identity_helpers import HOME, JP, imap_login, tls

from e2e.conftest import RunningServer

INVALID = {"status": "invalid_token", "schemes": "bearer"}
#: every token issued in this module (checked against the server log at the end)
ISSUED: list[str] = []


def _user(srv: RunningServer, name: str) -> tuple[str, str]:
    address, password = f"{name}@corp.test", f"{name.capitalize()}-pass-2026-x"
    srv.add_user(address, password)
    return address, password


def issue_token(srv: RunningServer, address: str, *, ttl: int | None = None) -> str:
    """A bearer token for ``address``, written by the product's action into the running
    server's store (``ttl`` < 0: already expired)."""
    from rongmail.actions.jmap import do_create_token
    from rongmail.app import open_app

    async def go() -> str:
        app = await open_app(srv.data_dir)
        try:
            account = await app.reader.account_by_address(address)
            token, _ = await do_create_token(
                app.ctx, account.id, kind="bearer", name="sasl", ttl=ttl
            )
            ISSUED.append(token)
            return token
        finally:
            await app.close()

    return asyncio.run(go())


def xoauth2(user: str, token: str) -> bytes:
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer(user: str, token: str, port: int = 993) -> bytes:
    authzid = f"a={user}" if user else ""
    return f"n,{authzid},\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


# -- clients bound to a source address --------------------------------------------------------


class Imap(imaplib.IMAP4_SSL):
    source = HOME[20]

    def _create_socket(self, timeout):  # type: ignore[no-untyped-def]
        raw = socket.create_connection(
            (self.host, self.port), timeout, source_address=(self.source, 0)
        )
        return tls().wrap_socket(raw, server_hostname=self.host)


def imap_client(srv: RunningServer, ip: str) -> Imap:
    Imap.source = ip
    return Imap("127.0.0.1", srv.ports["imaps"], ssl_context=tls(), timeout=30)


class Answers:
    """An imaplib / smtplib SASL callback: the client message first, then the RFC 7628
    §3.2.3 dummy ``0x01`` to anything else; records every challenge it was given."""

    def __init__(self, message: bytes) -> None:
        self.message = message
        self.challenges: list[bytes] = []

    def __call__(self, challenge: bytes | None = None) -> bytes:
        self.challenges.append(challenge or b"")
        return self.message if len(self.challenges) == 1 else b"\x01"

    def as_str(self, challenge: bytes | None = None) -> str:  # smtplib wants str
        return self(challenge).decode()


def imap_auth(
    srv: RunningServer, ip: str, mech: str, message: bytes
) -> tuple[str, list[bytes], list[str]]:
    """AUTHENTICATE over IMAPS: (tagged status, challenges seen, CAPABILITY before login)."""
    m = imap_client(srv, ip)
    caps = list(m.capabilities)
    answers = Answers(message)
    try:
        typ, data = m.authenticate(mech, answers)
        status = f"{typ} {data[0].decode()}"
        m.logout()
    except imaplib.IMAP4.error as e:
        status = f"NO {e}"
    return status, answers.challenges[1:], caps


def smtp_auth(
    srv: RunningServer, ip: str, mech: str, message: bytes, *, initial: bool = True
) -> tuple[int, str, list[bytes], str]:
    """AUTH over submissions: (code, text, challenges after the first message, EHLO AUTH)."""
    with smtplib.SMTP_SSL(
        "127.0.0.1", srv.ports["submissions"], timeout=30, source_address=(ip, 0), context=tls()
    ) as c:
        c.ehlo("client.test")
        offered = c.esmtp_features.get("auth", "")
        answers = Answers(message)
        try:
            code, text = c.auth(mech, answers.as_str, initial_response_ok=initial)
        except smtplib.SMTPResponseException as e:
            code, text = e.smtp_code, e.smtp_error
        seen = answers.challenges[1:] if initial else answers.challenges[2:]
        return code, text.decode(errors="replace"), seen, offered


class Pop3:
    """A raw POP3S client (poplib has no SASL)."""

    def __init__(self, srv: RunningServer, ip: str) -> None:
        raw = socket.create_connection(
            ("127.0.0.1", srv.ports["pop3s"]), timeout=30, source_address=(ip, 0)
        )
        self.sock: ssl.SSLSocket = tls().wrap_socket(raw, server_hostname="127.0.0.1")
        self.file = self.sock.makefile("rb")
        assert self.line().startswith("+OK")

    def line(self) -> str:
        return self.file.readline().decode().rstrip("\r\n")

    def cmd(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self) -> list[str]:
        out = []
        while (line := self.line()) != ".":
            out.append(line)
        return out

    def close(self) -> None:
        self.cmd("QUIT")
        self.sock.close()


def pop3_auth(srv: RunningServer, ip: str, mech: str, message: bytes) -> tuple[str, list[bytes]]:
    """AUTH with an initial response; answers an error challenge with ``AQ==``."""
    p = Pop3(srv, ip)
    reply = p.cmd(f"AUTH {mech} {base64.b64encode(message).decode()}")
    challenges = []
    while reply.startswith("+ "):
        challenges.append(base64.b64decode(reply[2:]))
        reply = p.cmd("AQ==")
    if reply.startswith("+OK"):
        assert p.cmd("STAT").startswith("+OK")
    p.close()
    return reply, challenges


# -- tests ------------------------------------------------------------------------------------


def test_mechanisms_are_offered_where_credentials_may_be_sent(srv: RunningServer) -> None:
    m = imap_client(srv, HOME[20])
    assert {"AUTH=PLAIN", "AUTH=LOGIN", "AUTH=OAUTHBEARER", "AUTH=XOAUTH2", "SASL-IR"} <= set(
        m.capabilities
    )
    m.logout()
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["submissions"], timeout=30, context=tls()) as c:
        c.ehlo("client.test")
        assert c.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"]
    p = Pop3(srv, HOME[20])
    assert p.cmd("CAPA").startswith("+OK")
    assert "SASL PLAIN LOGIN OAUTHBEARER XOAUTH2" in p.multi()
    p.close()
    # in clear text (no STARTTLS/STLS yet) no mechanism is offered at all
    raw = socket.create_connection(("127.0.0.1", srv.ports["imap"]), timeout=30)
    f = raw.makefile("rb")
    greeting = f.readline()
    assert b"LOGINDISABLED" in greeting and b"AUTH=" not in greeting
    raw.close()
    with smtplib.SMTP("127.0.0.1", srv.ports["submission"], timeout=30) as c:
        c.ehlo("client.test")
        assert "auth" not in c.esmtp_features


def test_imap_xoauth2_and_oauthbearer_accept_a_valid_token(srv: RunningServer) -> None:
    user, _ = _user(srv, "xu")
    token = issue_token(srv, user)
    status, challenges, _ = imap_auth(srv, HOME[21], "XOAUTH2", xoauth2(user, token))
    assert status.startswith("OK") and challenges == [], status
    status, challenges, _ = imap_auth(srv, HOME[21], "OAUTHBEARER", oauthbearer(user, token))
    assert status.startswith("OK") and challenges == [], status
    # no authzid: the token's own account (RFC 7628 §3.1)
    status, _, _ = imap_auth(srv, HOME[21], "OAUTHBEARER", oauthbearer("", token))
    assert status.startswith("OK"), status
    # the session is that user's: it sees their INBOX
    m = imap_client(srv, HOME[21])
    m.authenticate("XOAUTH2", Answers(xoauth2(user, token)))
    typ, data = m.select("INBOX")
    assert typ == "OK"
    m.logout()


def test_smtp_xoauth2_and_oauthbearer_accept_a_valid_token(srv: RunningServer) -> None:
    user, _ = _user(srv, "lu")
    token = issue_token(srv, user)
    code, text, challenges, _ = smtp_auth(srv, HOME[22], "XOAUTH2", xoauth2(user, token))
    assert code == 235 and challenges == [], text
    # without an initial response: empty 334 first, then the message
    code, text, _, _ = smtp_auth(
        srv, HOME[22], "OAUTHBEARER", oauthbearer(user, token, 465), initial=False
    )
    assert code == 235, text


def test_pop3_xoauth2_and_oauthbearer_accept_a_valid_token(srv: RunningServer) -> None:
    user, _ = _user(srv, "shi")
    token = issue_token(srv, user)
    for mech, message in (
        ("XOAUTH2", xoauth2(user, token)),
        ("OAUTHBEARER", oauthbearer(user, token, 995)),
    ):
        reply, challenges = pop3_auth(srv, HOME[23], mech, message)
        assert reply.startswith("+OK") and challenges == [], reply


@pytest.mark.parametrize("case", ["expired", "forged", "other_user", "just_expired"])
def test_refused_tokens_follow_the_rfc7628_error_flow(srv: RunningServer, case: str) -> None:
    name = {"expired": "tao", "forged": "jiang", "other_user": "fan", "just_expired": "peng"}[case]
    user, _ = _user(srv, name)
    victim, _ = _user(srv, name + "boss")
    if case == "expired":
        token, claimed = issue_token(srv, user, ttl=-60), user
    elif case == "forged":
        token, claimed = "Zm9yZ2VkLXRva2VuLTEyMzQ1Njc4OTA", user
    elif case == "other_user":  # a valid token, presented for someone else
        token, claimed = issue_token(srv, user), victim
    else:  # a token whose lifetime ends as it is issued
        token, claimed = issue_token(srv, user, ttl=0), user
    ip = HOME[24 + ["expired", "forged", "other_user", "just_expired"].index(case)]

    status, challenges, _ = imap_auth(srv, ip, "XOAUTH2", xoauth2(claimed, token))
    assert status.startswith("NO") and "AUTHENTICATIONFAILED" in status, status
    assert [json.loads(c) for c in challenges] == [INVALID]
    assert token not in status

    status, challenges, _ = imap_auth(srv, ip, "OAUTHBEARER", oauthbearer(claimed, token))
    assert status.startswith("NO") and "AUTHENTICATIONFAILED" in status, status
    assert [json.loads(c) for c in challenges] == [INVALID]

    code, text, challenges, _ = smtp_auth(srv, ip, "XOAUTH2", xoauth2(claimed, token))
    assert code == 535 and text.startswith("5.7.8 Invalid user name or password"), text
    assert [json.loads(c) for c in challenges] == [INVALID]
    assert token not in text

    reply, challenges = pop3_auth(srv, ip, "OAUTHBEARER", oauthbearer(claimed, token, 995))
    assert reply == "-ERR [AUTH] Invalid user name or password", reply
    assert [json.loads(c) for c in challenges] == [INVALID]


def test_a_token_opens_only_its_own_account(srv: RunningServer) -> None:
    owner, _ = _user(srv, "ren")
    other, other_pw = _user(srv, "yuan")
    token = issue_token(srv, owner)
    # claiming the other user with the owner's token fails on every protocol...
    status, _, _ = imap_auth(srv, HOME[30], "XOAUTH2", xoauth2(other, token))
    assert status.startswith("NO")
    code, _, _, _ = smtp_auth(srv, HOME[30], "OAUTHBEARER", oauthbearer(other, token, 465))
    assert code == 535
    reply, _ = pop3_auth(srv, HOME[30], "XOAUTH2", xoauth2(other, token))
    assert reply.startswith("-ERR [AUTH]")
    # ...and the same token as a password does not work either
    assert imap_login(srv, HOME[30], other, token).startswith("a1 NO")
    assert imap_login(srv, HOME[30], owner, token).startswith("a1 NO")
    # the owner is unaffected
    status, _, _ = imap_auth(srv, HOME[31], "XOAUTH2", xoauth2(owner, token))
    assert status.startswith("OK"), status
    assert imap_login(srv, HOME[31], other, other_pw).startswith("a1 OK")


def test_malformed_bearer_message_is_a_protocol_error(srv: RunningServer) -> None:
    user, _ = _user(srv, "kong")
    token = issue_token(srv, user)
    # channel binding requested (RFC 7628 §3.1: not supported) - no error challenge
    bad = f"p=tls-unique,a={user},\x01auth=Bearer {token}\x01\x01".encode()
    status, challenges, _ = imap_auth(srv, HOME[32], "OAUTHBEARER", bad)
    assert status.startswith("NO") and challenges == [], status
    code, _, challenges, _ = smtp_auth(srv, HOME[32], "OAUTHBEARER", bad)
    assert code == 535 and challenges == []
    reply, challenges = pop3_auth(srv, HOME[32], "OAUTHBEARER", bad)
    assert reply.startswith("-ERR") and challenges == []


def test_password_refusals_carry_the_public_text(srv: RunningServer) -> None:
    """A risk refusal tells the client what to do, on SMTP (535 5.7.8, RFC 4954 §6), IMAP
    (NO [AUTHENTICATIONFAILED], RFC 5530) and POP3 (-ERR [AUTH], RFC 3206)."""
    user, pw = _user(srv, "cao")
    assert imap_login(srv, HOME[33], user, pw).startswith("a1 OK")  # home history
    code, text, _, _ = smtp_auth(srv, JP, "PLAIN", f"\x00{user}\x00{pw}".encode())
    assert code == 535 and text.startswith("5.7.8 Sign-in refused: unusual location"), text
    assert "use an app password" in text and pw not in text
    reply = imap_login(srv, JP, user, pw)
    assert reply.startswith("a1 NO [AUTHENTICATIONFAILED] Sign-in refused"), reply
    reply, _ = pop3_auth(srv, JP, "PLAIN", f"\x00{user}\x00{pw}".encode())
    assert reply.startswith("-ERR [AUTH] Sign-in refused: unusual location"), reply


def test_no_token_or_traceback_in_the_server_log(srv: RunningServer) -> None:
    """Runs last in this module: secrets never reach the log, nothing crashed."""
    log = srv.log.read_text(errors="replace")
    assert ISSUED and not [t for t in ISSUED if t in log]
    assert "Traceback" not in log and "internal error" not in log
