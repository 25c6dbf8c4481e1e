"""DKIM and ARC against the Stalwart ``mail-auth`` vectors in ``email_auth_vectors``.

Each file holds DNS TXT records (``name value`` per line), a blank line, then the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from authvectors import SKIP_REASON, vectors_dir

from rongmail.services.dns import DnsResolver, MemoryTransport
from rongmail.services.mailauth import verify_arc, verify_dkim

pytestmark = pytest.mark.corpus

#: Expected result per signature. 005 carries ``x=1667930064``: expired by now, and RFC 6376
#: §3.5 (x=) makes an expired signature fail.
DKIM_EXPECTED = {
    "001.txt": ["pass", "pass"],  # RFC 8463 §A: Ed25519 and RSA over one message
    "002.txt": ["pass"],
    "003.txt": ["pass", "pass"],
    "004.txt": ["pass"],
    "005.txt": ["fail"],
    "006.txt": ["pass"],
}
#: 002 is sealed with ``a=ed25519-sha256``; RFC 8617 §4.1.3 (via RFC 6376 §3.3) registers only
#: rsa-sha256 for ARC, and dkimpy refuses others, so the chain does not validate here.
ARC_EXPECTED = {"001.txt": "pass", "002.txt": "fail"}


def _root() -> Path:
    root = vectors_dir()
    if root is None:
        pytest.skip(SKIP_REASON)
    return root / "stalwart_mail_auth"


def load(path: Path) -> tuple[DnsResolver, bytes]:
    data = path.read_bytes().replace(b"\r\n", b"\n")
    records, _, message = data.partition(b"\n\n")
    zone = MemoryTransport()
    for line in records.decode().splitlines():
        name, _, value = line.partition(" ")
        zone.add(name, "TXT", [value[i : i + 255] for i in range(0, len(value), 255)])
    return DnsResolver(zone), message.replace(b"\n", b"\r\n")


@pytest.mark.parametrize("name", sorted(DKIM_EXPECTED))
async def test_dkim_vectors(name: str) -> None:
    resolver, message = load(_root() / "dkim" / name)
    results = await verify_dkim(resolver, message)
    assert [r.result for r in results] == DKIM_EXPECTED[name], results
    if name == "005.txt":
        assert "x=" in results[0].reason


@pytest.mark.parametrize("name", sorted(ARC_EXPECTED))
async def test_arc_vectors(name: str) -> None:
    resolver, message = load(_root() / "arc" / name)
    result = await verify_arc(resolver, message)
    assert result.result == ARC_EXPECTED[name], result
    assert result.instances >= 1


async def test_arc_forwarded_message_keeps_original_dkim_pass() -> None:
    """The list re-signed; the author's ietf.org signatures still verify, the list's
    stalw.art one broke when the body changed: the case ARC exists for (RFC 8617 §1)."""
    resolver, message = load(_root() / "arc" / "001.txt")
    results = {(r.domain, r.result) for r in await verify_dkim(resolver, message)}
    assert ("ietf.org", "pass") in results
