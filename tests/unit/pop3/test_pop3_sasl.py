"""SASL PLAIN and LOGIN exchanges for POP3 AUTH (RFC 4616, RFC 5034 §4)."""

from __future__ import annotations

import pytest

from rongmail.errors import ValidationError
from rongmail.protocols.pop3.proto import sasl


def test_plain_with_and_without_initial_response() -> None:
    ex = sasl.start("PLAIN")
    assert ex is not None
    creds = ex.step(b"\x00user@demo.test\x00pw d")
    assert creds == sasl.Credentials("user@demo.test", "pw d", "")
    assert "pw d" not in repr(creds)
    ex = sasl.PlainExchange()
    assert ex.step(None) == b""
    assert ex.step(b"admin\x00u\x00p") == sasl.Credentials("u", "p", "admin")


@pytest.mark.parametrize("bad", [b"", b"u\x00p", b"\x00\x00p", b"a\x00b\x00c\x00d", b"\x00u\x00"])
def test_plain_malformed(bad: bytes) -> None:
    with pytest.raises(ValidationError):
        sasl.PlainExchange().step(bad)


def test_login() -> None:
    ex = sasl.LoginExchange()
    assert ex.step(None) == b"Username:"
    assert ex.step("\u5f20\u4f1f".encode()) == b"Password:"
    assert ex.step(b"secret") == sasl.Credentials("\u5f20\u4f1f", "secret")
    ex = sasl.LoginExchange()
    assert ex.step(b"u") == b"Password:"  # initial response is the user name
    with pytest.raises(ValidationError):
        sasl.LoginExchange().step(b"\xff")


def test_base64() -> None:
    assert sasl.decode_response("=") == b""
    assert sasl.decode_response("AHUAcA==") == b"\x00u\x00p"
    for bad in ("AHUAcA", "not base64", "\u53d1"):
        with pytest.raises(ValidationError):
            sasl.decode_response(bad)
    assert sasl.encode_challenge(b"Username:") == "VXNlcm5hbWU6"


def test_unknown_mechanism() -> None:
    assert sasl.start("CRAM-MD5") is None
