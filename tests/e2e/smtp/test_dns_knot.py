"""The production DNS transport (dnspython) against a real authoritative server (Knot)."""

from __future__ import annotations

import pytest

from rongmail.services.dns import DnsResolver, DnsTemporaryError, Rcode
from rongmail.services.mailauth.dkim import prefetch_keys

pytestmark = pytest.mark.peer


async def test_records_over_the_wire(knot, dkim_keys) -> None:  # type: ignore[no-untyped-def]
    r = DnsResolver.from_settings([knot.address], port=knot.port, timeout=3)
    mx = await r.mx("peer.test")
    assert mx.hosts == ("mx.peer.test",) and not mx.secure  # Knot is not a validating resolver
    assert (await r.mx("null.test")).null_mx
    implicit = await r.mx("far.test")
    assert implicit.implicit and implicit.hosts == ("far.test",)
    assert (await r.mx("nowhere.rong.test")).nxdomain
    missing = await r.query("nowhere.rong.test", "TXT")
    assert missing.rcode is Rcode.NXDOMAIN and 0 < missing.ttl <= 60  # SOA minimum, RFC 2308
    rsa = dkim_keys[0]
    lookup = await prefetch_keys(r, [rsa.record_name])
    assert lookup.records[rsa.record_name] == rsa.txt  # 255-octet strings joined back
    assert await r.txt("rong.test") == ["v=spf1 ip4:127.0.0.20 -all"]


async def test_unreachable_resolver_is_a_temporary_error() -> None:
    r = DnsResolver.from_settings(["127.0.0.54"], port=9, timeout=0.5)
    with pytest.raises(DnsTemporaryError):
        await r.mx("peer.test")
