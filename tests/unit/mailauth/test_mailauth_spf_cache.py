"""The SPF result cache (services/mailauth/spf.py, RFC 7208 §4.1 inputs, RFC 1035 TTLs).

The DNS cache and the SPF cache share one fake clock, so "remaining TTL" is exact; the
transport records every question, so a cache hit is visible as "no new question".
"""

from __future__ import annotations

from rongmail.services.dns import DnsResolver, MemoryTransport, TtlCache
from rongmail.services.mailauth import MailAuthenticator
from rongmail.services.mailauth.spf import SpfCache, SpfResult, check_spf


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def world(ttl: int = 30) -> tuple[MemoryTransport, DnsResolver, SpfCache, Clock]:
    clock = Clock()
    zone = MemoryTransport(ttl=ttl).add("sender.example", "TXT", ["v=spf1 ip4:192.0.2.1 -all"])
    resolver = DnsResolver(zone, cache=TtlCache(clock=clock))
    return zone, resolver, SpfCache(clock=clock), clock


async def spf(resolver: DnsResolver, cache: SpfCache, ip: str = "192.0.2.1",
              sender: str = "a@sender.example", helo: str = "mx.sender.example") -> SpfResult:
    v = await check_spf(resolver, ip=ip, mail_from=sender, helo=helo, cache=cache)
    return v.result


async def test_repeat_sender_is_served_from_the_cache() -> None:
    zone, resolver, cache, _ = world()
    assert await spf(resolver, cache) is SpfResult.PASS
    asked = len(zone.queries)
    resolver.cache.clear()  # a hit must not even reach the resolver's own cache
    assert await spf(resolver, cache) is SpfResult.PASS
    assert len(zone.queries) == asked
    assert len(cache) == 1


async def test_every_input_is_part_of_the_key() -> None:
    zone, resolver, cache, _ = world()
    assert await spf(resolver, cache) is SpfResult.PASS
    assert await spf(resolver, cache, ip="198.51.100.7") is SpfResult.FAIL
    assert await spf(resolver, cache, sender="b@sender.example") is SpfResult.PASS
    assert await spf(resolver, cache, helo="other.example") is SpfResult.PASS
    assert len(cache) == 4
    # macros make the local part and the HELO name matter (RFC 7208 §7.2)
    zone.add("m.example", "TXT", ["v=spf1 exists:%{l}.%{h}.allow.m.example -all"])
    zone.add("a.mx1.allow.m.example", "A", "127.0.0.2")
    assert await spf(resolver, cache, sender="a@m.example", helo="mx1") is SpfResult.PASS
    assert await spf(resolver, cache, sender="b@m.example", helo="mx1") is SpfResult.FAIL
    assert await spf(resolver, cache, sender="a@m.example", helo="mx2") is SpfResult.FAIL


async def test_a_result_expires_with_the_dns_ttl() -> None:
    zone, resolver, cache, clock = world(ttl=30)
    assert await spf(resolver, cache) is SpfResult.PASS
    zone.remove("sender.example", "TXT")
    zone.add("sender.example", "TXT", ["v=spf1 -all"])
    clock.now += 29
    assert await spf(resolver, cache) is SpfResult.PASS  # the published record is still fresh
    clock.now += 2
    assert await spf(resolver, cache) is SpfResult.FAIL  # both caches expired: new record


async def test_a_result_lives_no_longer_than_the_remaining_ttl_of_cached_answers() -> None:
    _, resolver, cache, clock = world(ttl=30)
    assert await spf(resolver, cache) is SpfResult.PASS  # DNS answer cached at t=0 for 30 s
    clock.now += 20
    # a new client: evaluated now from the DNS cache, whose answer has 10 s left
    assert await spf(resolver, cache, ip="198.51.100.7") is SpfResult.FAIL
    resolver.cache.clear()
    resolver.transport.remove("sender.example", "TXT")  # type: ignore[attr-defined]
    resolver.transport.add("sender.example", "TXT", ["v=spf1 +all"])  # type: ignore[attr-defined]
    clock.now += 9
    assert await spf(resolver, cache, ip="198.51.100.7") is SpfResult.FAIL
    clock.now += 2  # t=31: past the record's TTL, even though this result is only 11 s old
    assert await spf(resolver, cache, ip="198.51.100.7") is SpfResult.PASS


async def test_max_ttl_caps_long_dns_ttls() -> None:
    zone, resolver, _, clock = world(ttl=86_400)
    cache = SpfCache(clock=clock, max_ttl=60)
    await spf(resolver, cache)
    asked = len(zone.queries)
    resolver.cache.clear()
    clock.now += 61
    await spf(resolver, cache)
    assert len(zone.queries) > asked


async def test_temperror_is_never_cached() -> None:
    zone, resolver, cache, _ = world()
    zone.add_timeout("flaky.example", "TXT")
    assert await spf(resolver, cache, sender="a@flaky.example") is SpfResult.TEMPERROR
    assert len(cache) == 0
    asked = len(zone.queries)
    assert await spf(resolver, cache, sender="a@flaky.example") is SpfResult.TEMPERROR
    assert len(zone.queries) > asked


async def test_zero_ttl_answers_are_not_reused() -> None:
    zone, resolver, cache, _ = world(ttl=0)
    await spf(resolver, cache)
    asked = len(zone.queries)
    await spf(resolver, cache)
    assert len(zone.queries) > asked
    assert len(cache) == 0


async def test_the_cache_is_bounded() -> None:
    _, resolver, _, clock = world()
    cache = SpfCache(clock=clock, size=3)
    for i in range(1, 6):
        await spf(resolver, cache, ip=f"192.0.2.{i}")
    assert len(cache) == 3


async def test_mail_authenticator_uses_a_cache_unless_disabled() -> None:
    zone, resolver, _, _ = world()
    on = MailAuthenticator(resolver, authserv_id="mx.test")
    off = MailAuthenticator(resolver, authserv_id="mx.test", spf_cache=None)
    msg = b"From: a@sender.example\r\nSubject: x\r\n\r\nbody\r\n"
    for auth, reused in ((on, True), (off, False)):
        await auth.check(msg, ip="192.0.2.1", helo="mx", mail_from="a@sender.example")
        resolver.cache.clear()
        before = [q for q in zone.queries if q == ("sender.example", "TXT")]
        await auth.check(msg, ip="192.0.2.1", helo="mx", mail_from="a@sender.example")
        after = [q for q in zone.queries if q == ("sender.example", "TXT")]
        # DMARC reads _dmarc.sender.example, never sender.example TXT: only SPF asks for it
        assert (len(after) == len(before)) is reused
