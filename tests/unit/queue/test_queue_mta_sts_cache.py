"""MTA-STS policy caching (RFC 8461 §5.1) and the remote agent's DNS-driven outcomes."""

from __future__ import annotations

import argparse

from rongmail.actions import accounts as acc
from rongmail.cli.queue import register
from rongmail.config.queue import QueueSettings
from rongmail.queue.agents.base import DeliveryJob
from rongmail.queue.agents.smtp_remote import RemoteSmtpAgent
from rongmail.queue.mta_sts import MtaSts, PolicyError
from rongmail.services.dns import DnsResolver, MemoryTransport, TtlCache
from rongmail.store.sql.queue import QueuedMessage, QueuedRecipient

POLICY = "version: STSv1\nmode: enforce\nmx: mx.example.cn\nmax_age: 1000\n"


class Fetcher:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    async def __call__(self, domain: str) -> str:
        self.calls += 1
        if self.fail:
            raise PolicyError("unreachable")
        return POLICY


async def test_policy_cache_follows_txt_id_and_survives_fetch_failures(stack) -> None:  # type: ignore[no-untyped-def]
    await acc.do_create_tenant(stack.ctx, "t")
    now = [1000.0]
    zone = MemoryTransport(ttl=0).add("_mta-sts.example.cn", "TXT", "v=STSv1; id=one")
    resolver = DnsResolver(zone, cache=TtlCache(max_entries=0))
    fetch = Fetcher()
    sts = MtaSts(resolver, stack.ctx, fetch, clock=lambda: now[0])
    p = await sts.policy("example.cn")
    assert p is not None and p.mode == "enforce" and fetch.calls == 1
    assert await sts.policy("example.cn") == p and fetch.calls == 1  # same id: cached
    # A fresh process reads the persisted policy instead of trusting the network.
    sts2 = MtaSts(resolver, stack.ctx, fetch, clock=lambda: now[0])
    zone.remove("_mta-sts.example.cn", "TXT")  # attacker strips the TXT record
    assert await sts2.policy("example.cn") == p and fetch.calls == 1
    zone.add("_mta-sts.example.cn", "TXT", "v=STSv1; id=two")
    fetch.fail = True
    assert await sts2.policy("example.cn") == p and fetch.calls == 2  # fetch failed: cached
    now[0] += 2000  # past max_age
    assert await sts2.policy("example.cn") is None
    assert await sts.policy("nosts.example") is None


def job(domain: str) -> DeliveryJob:
    m = QueuedMessage(1, 1, "b", 10, "a@x.cn", None, None, False, False, "", None, b"", False,
                      0, 10)  # fmt: skip
    r = QueuedRecipient(7, 1, f"u@{domain}", domain, None, None, "inbox", "queued", 0, 0, None,
                        None, None, None, None, False, False)  # fmt: skip
    return DeliveryJob(m, (r,), b"Subject: x\r\n\r\nx\r\n")


async def test_remote_agent_dns_outcomes() -> None:
    zone = MemoryTransport().add("null.test", "MX", (0, ".")).add_timeout("slow.test")
    zone.add("sts.test", "MX", (10, "mx.other.test"))
    agent = RemoteSmtpAgent(DnsResolver(zone), QueueSettings.model_validate({"mta_sts": False}),
                            helo="mx.t")  # fmt: skip
    [o] = await agent.deliver(job("null.test"))
    assert (o.state, o.code, o.status) == ("failed", 556, "5.1.10")
    [o] = await agent.deliver(job("missing.test"))
    assert (o.state, o.status) == ("failed", "5.1.2")
    [o] = await agent.deliver(job("slow.test"))
    assert (o.state, o.status) == ("deferred", "4.4.3")


def test_cli_register() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["queue", "hold", "3", "4", "--data-dir", "/tmp/x"])
    assert args.ids == [3, 4] and callable(args.func)
    args = parser.parse_args(["queue", "list", "--json", "--held"])
    assert args.json and args.held
