"""Modified UTF-7 (RFC 3501 §5.1.3)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongmail.protocols.imap.proto import mutf7


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("发票", "&U9F5aA-"),
        ("收件箱/2024年", "&ZTZO9nux-/2024&XnQ-"),
        ("R&D", "R&-D"),
        ("INBOX", "INBOX"),
        ("", ""),
    ],
)
def test_known_encodings(name: str, wire: str) -> None:
    assert mutf7.encode(name) == wire
    assert mutf7.decode(wire) == name
    assert mutf7.decode(wire.encode("ascii")) == name


@pytest.mark.parametrize(
    "bad",
    [
        "&Jjo!",  # RFC 3501 §5.1.3: unterminated
        "&U,BTFw-&ZeVnLIqe-",  # RFC 3501 §5.1.3: adjacent shifted runs
        "&AGE-",  # shifted printable ASCII ("a")
        "&U9F5aB-",  # non-zero padding bits
        "&U9F5aAA-",  # overlong run
        "&*-",  # not base64
        "a\x01b",  # control character
        "&2D0-",  # lone high surrogate
    ],
)
def test_rejects_non_canonical(bad: str) -> None:
    with pytest.raises(mutf7.MUtf7Error):
        mutf7.decode(bad)


def test_rejects_8bit() -> None:
    with pytest.raises(mutf7.MUtf7Error):
        mutf7.decode("发票".encode())


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_round_trip(name: str) -> None:
    wire = mutf7.encode(name)
    assert wire.isascii()
    assert mutf7.decode(wire) == name
