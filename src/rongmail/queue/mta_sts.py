"""MTA-STS (RFC 8461): discover, fetch, cache and apply a recipient domain's TLS policy.

Flow (RFC 8461 §3 and §5): look up ``_mta-sts.<domain>`` TXT; if its ``id`` equals the cached
policy's and the cache is fresh, use the cache; otherwise fetch
``https://mta-sts.<domain>/.well-known/mta-sts.txt`` over HTTPS with a PKIX-valid certificate
(no redirects, at most 64 KiB), parse it, and store it with its ``max_age``. A failed fetch
falls back to a still-valid cached policy (§5.1) — this is what makes MTA-STS resistant to a
network attacker who blocks the policy host.

Applying (§4): in ``enforce`` mode an MX host must match a ``mx`` pattern (§4.1) and the
connection must use TLS with a certificate valid for the MX host name (§4.2); otherwise the host
is not used. ``testing`` mode only logs; ``none`` means no policy.

The policy cache is the ``mta_sts_policy`` table (survives restarts), fronted by a dict.
Fetching goes through a :class:`PolicyFetcher` so tests can serve policies without port 443.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from rongmail.actions.context import ActionContext
from rongmail.actions.queue import do_store_sts_policy
from rongmail.services.dns import DnsNameError, DnsResolver, DnsTemporaryError
from rongmail.store.sql import queue as qs

log = logging.getLogger(__name__)

MAX_POLICY_BYTES = 64 * 1024
#: RFC 8461 §3.2: max_age is at most 31557600 seconds (one year).
MAX_AGE_LIMIT = 31_557_600
FETCH_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class StsPolicy:
    mode: str  # enforce | testing | none
    mx: tuple[str, ...]
    max_age: int
    policy_id: str = ""

    def matches(self, host: str) -> bool:
        """RFC 8461 §4.1: exact match, or ``*.example.com`` matching exactly one extra label."""
        h = host.lower().rstrip(".")
        for pattern in self.mx:
            p = pattern.lower().rstrip(".")
            if p.startswith("*."):
                head, _, rest = h.partition(".")
                if head and rest == p[2:]:
                    return True
            elif h == p:
                return True
        return False


class PolicyError(ValueError):
    """The policy text is not a valid STSv1 policy."""


def parse_policy(text: str, policy_id: str = "") -> StsPolicy:
    """Parse the policy body (RFC 8461 §3.2): ``key: value`` lines, CRLF or LF."""
    fields: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PolicyError(f"malformed line {line!r}")
        fields.setdefault(key.strip().lower(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise PolicyError("version is not STSv1")
    mode = (fields.get("mode") or [""])[0]
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError(f"bad mode {mode!r}")
    try:
        max_age = int((fields.get("max_age") or [""])[0])
    except ValueError as e:
        raise PolicyError("bad max_age") from e
    if not 0 <= max_age <= MAX_AGE_LIMIT:
        raise PolicyError("max_age out of range")
    mx = tuple(fields.get("mx", ()))
    if mode != "none" and not mx:
        raise PolicyError("no mx patterns")
    return StsPolicy(mode, mx, max_age, policy_id)


def parse_txt(texts: list[str]) -> str | None:
    """The ``id`` of the single ``v=STSv1`` TXT record (RFC 8461 §3.1), else ``None``."""
    records = [t for t in texts if t.replace(" ", "").startswith("v=STSv1")]
    if len(records) != 1:
        return None
    for part in records[0].split(";"):
        k, _, v = part.strip().partition("=")
        if k == "id" and v and v.isalnum() and len(v) <= 32:
            return v
    return None


class PolicyFetcher(Protocol):
    async def __call__(self, domain: str) -> str: ...


class _AiohttpDns(AbstractResolver):
    """Resolve the policy host through RongMail's resolver, not the system's."""

    def __init__(self, resolver: DnsResolver) -> None:
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addrs = await self._resolver.addresses(host)
        if not addrs:
            raise OSError(f"no address for {host}")
        out: list[ResolveResult] = []
        for a in addrs:
            fam = socket.AF_INET6 if ":" in a else socket.AF_INET
            out.append(
                ResolveResult(hostname=host, host=a, port=port, family=fam, proto=0,
                              flags=socket.AI_NUMERICHOST)
            )  # fmt: skip
        return out

    async def close(self) -> None:
        return None


class HttpsPolicyFetcher:
    """GET ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (RFC 8461 §3.3)."""

    def __init__(
        self, resolver: DnsResolver, *, ca_file: str = "", timeout: float = FETCH_TIMEOUT,
        port: int = 443,
    ) -> None:  # fmt: skip
        self._resolver = resolver
        self._ssl = ssl.create_default_context(cafile=ca_file or None)
        if ca_file:
            self._ssl.load_default_certs()
        self._timeout = timeout
        self._port = port

    async def __call__(self, domain: str) -> str:
        url = f"https://mta-sts.{domain}:{self._port}/.well-known/mta-sts.txt"
        connector = aiohttp.TCPConnector(ssl=self._ssl, resolver=_AiohttpDns(self._resolver))
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise PolicyError(f"HTTP {resp.status}")
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if ctype != "text/plain":
                    raise PolicyError(f"content type {ctype!r}")
                body = await resp.content.read(MAX_POLICY_BYTES + 1)
                if len(body) > MAX_POLICY_BYTES:
                    raise PolicyError("policy too large")
                return body.decode("utf-8")


class MtaSts:
    """The policy cache and lookup used by the remote delivery agent."""

    def __init__(
        self,
        resolver: DnsResolver,
        ctx: ActionContext,
        fetcher: PolicyFetcher | Callable[[str], Awaitable[str]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._resolver = resolver
        self._ctx = ctx
        self._fetch = fetcher
        self._clock = clock
        self._mem: dict[str, qs.StsPolicyRow] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _cached(self, domain: str) -> qs.StsPolicyRow | None:
        row = self._mem.get(domain)
        if row is None:
            row = await self._ctx.meta.read(qs.get_sts_policy(domain))
            if row is not None:
                self._mem[domain] = row
        if row is not None and row.fetched_at + row.max_age <= self._clock():
            return None  # expired: RFC 8461 §5.1
        return row

    @staticmethod
    def _policy(row: qs.StsPolicyRow) -> StsPolicy:
        return StsPolicy(row.mode, row.mx, row.max_age, row.policy_id)

    async def policy(self, domain: str) -> StsPolicy | None:
        """The policy in force for ``domain`` now, or ``None``."""
        d = domain.lower().rstrip(".")
        lock = self._locks.setdefault(d, asyncio.Lock())
        async with lock:
            return await self._policy_locked(d)

    async def _policy_locked(self, d: str) -> StsPolicy | None:
        cached = await self._cached(d)
        try:
            policy_id = parse_txt(await self._resolver.txt(f"_mta-sts.{d}"))
        except (DnsTemporaryError, DnsNameError):
            policy_id = None
        now = int(self._clock())
        if policy_id is None:
            # No (valid) TXT: keep honouring an unexpired cached policy (§5.1).
            return self._policy(cached) if cached else None
        if cached is not None and cached.policy_id == policy_id:
            return self._policy(cached)
        try:
            text = await self._fetch(d)
            policy = parse_policy(text, policy_id)
        except (PolicyError, aiohttp.ClientError, OSError, TimeoutError, UnicodeError) as e:
            log.info("MTA-STS policy fetch for %s failed: %s", d, e)
            return self._policy(cached) if cached else None
        row = qs.StsPolicyRow(d, policy_id, policy.mode, policy.mx, policy.max_age, now)
        await do_store_sts_policy(self._ctx, row)
        self._mem[d] = row
        return policy


def describe(policy: StsPolicy | None) -> dict[str, Any]:
    """A JSON-friendly view for logs and ``rongmail queue show``."""
    if policy is None:
        return {"mode": "none"}
    return {"mode": policy.mode, "mx": list(policy.mx), "max_age": policy.max_age}
