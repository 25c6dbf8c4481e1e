"""The cached resolver: MX rules (RFC 5321 §5.1, RFC 7505), caching (RFC 2308), coalescing."""

from __future__ import annotations

import asyncio

import pytest

from rongmail.services.dns import (
    DnsNameError,
    DnsResolver,
    DnsTemporaryError,
    MemoryTransport,
    TlsaRecord,
    TtlCache,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_mx_order_null_implicit_nxdomain() -> None:
    zone = (
        MemoryTransport()
        .add("example.cn", "MX", (20, "mx2.example.cn"), (10, "MX1.example.cn."))
        .add("null.test", "MX", (0, "."))
        .add("bare.test", "A", "192.0.2.5")
        .add("noaddr.test", "TXT", "hello")
    )
    r = DnsResolver(zone)
    assert (await r.mx("Example.CN.")).hosts == ("mx1.example.cn", "mx2.example.cn")
    null = await r.mx("null.test")
    assert null.null_mx and not null.hosts
    implicit = await r.mx("bare.test")
    assert implicit.implicit and implicit.hosts == ("bare.test",)
    assert (await r.mx("nowhere.test")).nxdomain
    assert (await r.mx("noaddr.test")).nxdomain  # no MX and no address: undeliverable
    assert (await r.mx("[192.0.2.9]")).hosts == ("192.0.2.9",)


async def test_mixed_null_mx_uses_real_exchanges() -> None:
    zone = MemoryTransport().add("mixed.test", "MX", (0, "."), (10, "mx.mixed.test"))
    assert (await DnsResolver(zone).mx("mixed.test")).hosts == ("mx.mixed.test",)


async def test_cache_ttl_and_negative_caching() -> None:
    clock = Clock()
    zone = MemoryTransport(ttl=60).add("a.test", "A", "192.0.2.1")
    r = DnsResolver(zone, cache=TtlCache(clock=clock))
    for _ in range(3):
        assert await r.addresses("a.test", ipv6=False) == ["192.0.2.1"]
        assert (await r.query("missing.test", "A")).nxdomain
    assert zone.queries == [("a.test", "A"), ("missing.test", "A")]
    clock.now += 61
    await r.query("a.test", "A")
    assert len(zone.queries) == 3


async def test_temporary_errors_are_raised_not_cached() -> None:
    zone = MemoryTransport().add_timeout("slow.test")
    r = DnsResolver(zone)
    for _ in range(2):
        with pytest.raises(DnsTemporaryError):
            await r.mx("slow.test")
    assert zone.queries == [("slow.test", "MX"), ("slow.test", "MX")]
    with pytest.raises(DnsNameError):
        await r.query("a" * 64 + ".test", "A")


async def test_identical_questions_share_one_flight() -> None:
    gate = asyncio.Event()

    class Slow(MemoryTransport):
        async def query(self, name: str, rdtype: str):  # type: ignore[override]
            await gate.wait()
            return await super().query(name, rdtype)

    zone = Slow().add("x.test", "TXT", "v=spf1 -all")
    r = DnsResolver(zone)
    tasks = [asyncio.create_task(r.txt("x.test")) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == [["v=spf1 -all"]] * 5
    assert zone.queries == [("x.test", "TXT")]


async def test_one_family_failing_is_tolerated_and_tlsa_secure() -> None:
    zone = (
        MemoryTransport(secure_zones=["dnssec.test"])
        .add("h.test", "A", "192.0.2.1")
        .add_timeout("h.test", "AAAA")
        .add("_25._tcp.mx.dnssec.test", "TLSA", (3, 1, 1, "ab" * 32))
    )
    r = DnsResolver(zone)
    assert await r.addresses("h.test") == ["192.0.2.1"]
    records, secure = await r.tlsa_records("mx.dnssec.test")
    assert secure and records == [TlsaRecord(3, 1, 1, bytes.fromhex("ab" * 32))]
    assert await r.ptr("192.0.2.1") == []


def test_lru_bound() -> None:
    from rongmail.services.dns import Answer, Rcode

    cache = TtlCache(max_entries=2)
    for n in ("a", "b", "c"):
        cache.put((n, "A"), Answer(n, "A", Rcode.NOERROR, (), 60))
    assert len(cache) == 2 and cache.get(("a", "A")) is None


async def test_cancelled_caller_does_not_cancel_the_shared_lookup() -> None:
    gate = asyncio.Event()

    class Slow(MemoryTransport):
        async def query(self, name: str, rdtype: str):  # type: ignore[override]
            await gate.wait()
            return await super().query(name, rdtype)

    zone = Slow().add("x.test", "A", "192.0.2.1")
    r = DnsResolver(zone)
    first = asyncio.create_task(r.query("x.test", "A"))
    second = asyncio.create_task(r.query("x.test", "A"))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert (await second).records == ("192.0.2.1",)
    assert first.cancelled() and zone.queries == [("x.test", "A")]


def test_from_config_uses_the_queue_dns_settings() -> None:
    from rongmail.config.queue import QueueSettings

    cfg = QueueSettings.model_validate({"dns": {"nameservers": ["192.0.2.53"], "port": 5300}})
    r = DnsResolver.from_config(cfg.dns)
    assert r.transport.nameservers == ["192.0.2.53"]  # type: ignore[attr-defined]
