"""DNSBL/URIBL lookups: name construction, a fake resolver and a real local DNS zone."""

from __future__ import annotations

import asyncio

import dns.message
import dns.rcode
import dns.rrset
import pytest
from pydantic import ValidationError as PydanticError

from rongmail.config.spam import SpamSettings, split_nameserver
from rongmail.services.spam.context import ScanContext
from rongmail.services.spam.dnsbl import DnsPythonResolver, dnsbl_name, dnsbl_tags

from .helpers import msg

ZONE = {
    "2.0.0.127.bl.test.": "127.0.0.2",
    "10.113.0.203.bl.test.": "127.0.0.4",
    "9.113.0.203.bl.test.": "127.255.255.254",  # "query refused": not a listing
    "spam-domain.example.uribl.test.": "127.0.0.2",
}


class FakeResolver:
    def __init__(self, *, slow: bool = False) -> None:
        self.slow = slow
        self.asked: list[str] = []

    async def a(self, name: str) -> list[str]:
        self.asked.append(name)
        if self.slow:
            await asyncio.sleep(10)
        hit = ZONE.get(name + ".")
        return [hit] if hit else []


def test_query_names() -> None:
    assert dnsbl_name("203.0.113.10", "bl.test") == "10.113.0.203.bl.test"
    assert dnsbl_name("2001:db8::1", "bl.test") == (
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test"
    )
    assert dnsbl_name("not-an-ip", "bl.test") is None


async def test_listed_ip_and_uri() -> None:
    ctx = ScanContext(
        resolver=FakeResolver(),
        client_ip="203.0.113.10",
        dnsbl_zones=("bl.test",),
        uribl_zones=("uribl.test",),
    )
    m = msg(body="buy at http://www.spam-domain.example/x and https://python.org/")
    got = {t.name: t.detail for t in await dnsbl_tags(m, ctx)}
    assert got == {
        "RBL_LISTED": "203.0.113.10 in bl.test",
        "URIBL_LISTED": "spam-domain.example in uribl.test",
    }


async def test_refused_code_and_clean_ip_are_not_listings() -> None:
    for ip in ("203.0.113.9", "198.51.100.1"):
        ctx = ScanContext(resolver=FakeResolver(), client_ip=ip, dnsbl_zones=("bl.test",))
        assert await dnsbl_tags(msg(), ctx) == []


async def test_slow_lists_are_cut_by_the_budget() -> None:
    ctx = ScanContext(
        resolver=FakeResolver(slow=True), client_ip="127.0.0.2", dnsbl_zones=("bl.test",)
    )
    assert await dnsbl_tags(msg(), ctx, budget=0.05) == []


async def test_no_resolver_no_queries() -> None:
    assert (
        await dnsbl_tags(msg(), ScanContext(client_ip="127.0.0.2", dnsbl_zones=("bl.test",))) == []
    )


class _ZoneServer(asyncio.DatagramProtocol):
    """A tiny authoritative UDP server for :data:`ZONE` (NXDOMAIN elsewhere)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        q = dns.message.from_wire(data)
        r = dns.message.make_response(q)
        name = q.question[0].name.to_text()
        if name in ZONE:
            r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", ZONE[name]))
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(r.to_wire(), addr)  # type: ignore[attr-defined]


@pytest.fixture
async def local_zone() -> object:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_ZoneServer, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    yield f"127.0.0.1:{port}"
    transport.close()


async def test_against_a_local_dns_zone(local_zone: str) -> None:
    resolver = DnsPythonResolver([local_zone], timeout=2.0)
    assert await resolver.a("2.0.0.127.bl.test") == ["127.0.0.2"]
    assert await resolver.a("1.0.0.127.bl.test") == []
    ctx = ScanContext(
        resolver=resolver,
        client_ip="203.0.113.10",
        dnsbl_zones=("bl.test",),
        uribl_zones=("uribl.test",),
    )
    m = msg(body="http://spam-domain.example/")
    assert {t.name for t in await dnsbl_tags(m, ctx)} == {"RBL_LISTED", "URIBL_LISTED"}


def test_nameserver_forms_ipv6_with_and_without_port() -> None:
    """``[spam] dns_nameservers``: IPv4, IPv4:port, bare IPv6 and ``[IPv6]:port`` (RFC 3986
    §3.2.2 brackets); each server keeps its own port in the dnspython resolver."""
    ok = {
        "192.0.2.53": ("192.0.2.53", None),
        "192.0.2.53:5353": ("192.0.2.53", 5353),
        "2001:db8::53": ("2001:db8::53", None),
        "[2001:db8::53]": ("2001:db8::53", None),
        "[2001:db8::53]:5353": ("2001:db8::53", 5353),
        "::1": ("::1", None),
    }
    for spec, want in ok.items():
        assert split_nameserver(spec) == want, spec
    s = SpamSettings.model_validate({"dns_nameservers": list(ok)})
    assert len(s.dns_nameservers) == len(ok)
    for bad in (
        "[2001:db8::53]:0",
        "[2001:db8::53]:x",
        "[192.0.2.53]:53",
        "[::1",
        "[::1]53",
        "192.0.2.53:70000",
        "resolver.example",
        "resolver.example:53",
    ):
        with pytest.raises(ValueError):
            split_nameserver(bad)
        with pytest.raises(PydanticError):
            SpamSettings.model_validate({"dns_nameservers": [bad]})
    r = DnsPythonResolver(["[2001:db8::53]:5353", "192.0.2.53", "2001:db8::54"])
    got = [(ns.address, ns.port) for ns in r._r.nameservers]  # type: ignore[union-attr]
    assert got == [("2001:db8::53", 5353), ("192.0.2.53", 53), ("2001:db8::54", 53)]


async def test_against_a_local_dns_zone_over_ipv6() -> None:
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(_ZoneServer, local_addr=("::1", 0))
    except OSError as e:
        pytest.skip(f"no IPv6 loopback: {e}")
    try:
        port = transport.get_extra_info("sockname")[1]
        resolver = DnsPythonResolver([f"[::1]:{port}"], timeout=2.0)
        assert await resolver.a("2.0.0.127.bl.test") == ["127.0.0.2"]
        assert await resolver.a("1.0.0.127.bl.test") == []
    finally:
        transport.close()
