"""SPF (RFC 7208) evaluation: pyspf's engine on RongMail's DNS.

Why pyspf and not our own: it is the reference implementation of the OpenSPF test suite
(macros RFC 7208 §7, the 10-lookup and 2-void-lookup limits §4.6.4, ``exp=`` §6.2, PTR
validation §5.5), and it passes ``rfc7208-tests.yml`` here. Its weaknesses are that it is
synchronous and that its only DNS hook is the module-level function ``spf.DNSLookup``. We
handle both:

* :func:`check_spf` runs pyspf in a worker thread (``asyncio.to_thread``), never on the event
  loop thread.
* At import we replace ``spf.DNSLookup`` with :func:`_bridged_lookup`, which finds the calling
  check's :class:`_Bridge` in a ``ContextVar`` (``to_thread`` copies the context) and sends
  each question back to the event loop with ``run_coroutine_threadsafe``. Answers therefore
  come from, and go into, the shared :class:`DnsResolver` cache, honour the configured
  nameservers, and are bounded by one overall deadline (RFC 7208 §4.6.4 suggests at least
  20 s). Without a bridge in context the hook raises ``TempError``: pyspf never reaches the
  system resolver behind our back.

Invariant: the event loop thread must stay free while a check runs (it answers the bridge);
calling :func:`check_spf` from a thread with no running loop is an error.

Repeat senders skip the thread altogether through an :class:`SpfCache`. ``check_host()``
(RFC 7208 §4) is a function of the client IP, the sender (§4.1: ``<sender>`` and ``<domain>``;
the whole address, since macros may expand the local part, §7.2), the HELO name (``%{h}``),
our host name (``%{r}``) and the DNS records it consults, so the cache key is the first four
and an entry lives no longer than the shortest *remaining* TTL of every answer the evaluation
used (RFC 1035 §3.2.1: the answer may be reused while its TTL lasts), capped at
``max_ttl``. ``temperror`` is never cached (it must be retried, §2.6.6). The one part not
captured is a ``%{t}`` (timestamp) macro in an ``exp=`` explanation (§7.2), which a cached
``fail`` repeats with its original time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import enum
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import spf

from rongmail.core.expiring import ExpiringLru
from rongmail.services.dns import Answer, DnsNameError, DnsResolver, DnsTemporaryError, MxRecord

#: RFC 7208 §4.6.4: "at least 20 seconds" for the whole evaluation.
DEFAULT_SPF_TIMEOUT = 20.0


class SpfResult(enum.StrEnum):
    """RFC 7208 §2.6 results, spelled as in ``Authentication-Results`` (RFC 8601 §2.7.2)."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


_LEGACY = {"unknown": "permerror", "error": "temperror", "deny": "fail", "ambiguous": "permerror"}


@dataclass(frozen=True, slots=True)
class SpfVerdict:
    result: SpfResult
    #: ``mailfrom`` or ``helo`` (RFC 7208 §2.3/§2.4).
    identity: str
    #: The domain whose policy was evaluated (MAIL FROM domain, or the HELO name).
    domain: str
    #: The value for ``smtp.mailfrom``/``smtp.helo`` in Authentication-Results.
    checked: str
    client_ip: str
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class _Bridge:
    loop: asyncio.AbstractEventLoop
    resolver: DnsResolver
    deadline: float
    #: Remaining freshness (seconds) of every DNS answer this evaluation used.
    ttls: list[float] = field(default_factory=list)


async def _ask(resolver: DnsResolver, name: str, qtype: str) -> tuple[Answer, float]:
    """One question and how long its answer stays fresh (the resolver's cache, else its TTL)."""
    answer = await resolver.query(name, qtype)
    left = resolver.fresh_for(name, qtype)
    return answer, float(answer.ttl) if left is None else left


_bridge: contextvars.ContextVar[_Bridge | None] = contextvars.ContextVar(
    "rongmail_spf_bridge", default=None
)


def _bridged_lookup(
    name: str, qtype: str, strict: Any = True, timeout: float = 20.0
) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's DNS hook: same signature and result shape as ``spf.DNSLookup_dnspython``."""
    bridge = _bridge.get()
    if bridge is None:
        raise spf.TempError("DNS unavailable outside a RongMail SPF check")
    remaining = bridge.deadline - time.monotonic()
    if remaining <= 0:
        raise spf.TempError("DNS: SPF evaluation time limit exceeded")
    fut = asyncio.run_coroutine_threadsafe(_ask(bridge.resolver, name, qtype), bridge.loop)
    try:
        answer, fresh = fut.result(timeout=min(remaining, timeout) if timeout else remaining)
    except concurrent.futures.TimeoutError as e:
        fut.cancel()
        raise spf.TempError(f"DNS timeout {qtype} {name}") from e
    except DnsTemporaryError as e:
        raise spf.TempError(f"DNS {e.detail}") from e
    except DnsNameError:
        return []  # an unusable name: no record consulted, nothing that expires
    bridge.ttls.append(fresh)
    key = (name, qtype)
    out: list[tuple[tuple[str, str], Any]] = []
    for r in answer.records:
        if isinstance(r, MxRecord):
            out.append((key, (r.preference, r.exchange)))
        elif isinstance(r, tuple):  # TXT/SPF: pyspf joins the character-strings itself
            out.append((key, list(r)))
        else:
            out.append((key, r))
    return out


spf.DNSLookup = _bridged_lookup


def _run_pyspf(ip: str, sender: str, helo: str, receiver: str, timeout: float) -> tuple[str, str]:
    q = spf.query(i=ip, s=sender, h=helo, receiver=receiver, strict=True, querytime=timeout)
    try:
        result, _code, explanation = q.check()
    except (spf.TempError, OSError, RuntimeError) as e:  # a bridge failure pyspf did not catch
        return "temperror", str(e)
    return _LEGACY.get(result, result), explanation


#: Longest time (seconds) an SPF result is reused, whatever the DNS TTLs allow.
SPF_CACHE_MAX_TTL = 300.0
#: Results an :class:`SpfCache` keeps at most (least recently used evicted first).
SPF_CACHE_SIZE = 10_000

_SpfKey = tuple[str, str, str, str]


class SpfCache:
    """Results of ``check_host()`` per (client IP, sender, HELO, receiver), each kept until
    the shortest remaining TTL of the DNS answers it used, at most ``max_ttl`` seconds of
    ``clock``; at most ``size`` entries. ``temperror`` is never stored. Event-loop thread
    only (no lock)."""

    def __init__(
        self,
        *,
        max_ttl: float = SPF_CACHE_MAX_TTL,
        size: int = SPF_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_ttl = max_ttl
        self._data: ExpiringLru[_SpfKey, tuple[str, str]] = ExpiringLru(size, clock=clock)

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: _SpfKey) -> tuple[str, str] | None:
        return self._data.get(key)

    def put(self, key: _SpfKey, result: str, explanation: str, ttls: Sequence[float]) -> None:
        if result != SpfResult.TEMPERROR:
            self._data.put(key, (result, explanation), min((self._max_ttl, *ttls)))


def _sender_domain(mail_from: str, helo: str) -> tuple[str, str, str]:
    """(identity, domain, sender) per RFC 7208 §2.4: a null reverse-path uses the HELO name."""
    if mail_from:
        local, _, domain = mail_from.rpartition("@")
        if not local:  # RFC 7208 §4.3: no local part -> "postmaster"
            mail_from = "postmaster@" + domain
        return "mailfrom", domain, mail_from
    return "helo", helo, f"postmaster@{helo}" if helo else ""


async def check_spf(
    resolver: DnsResolver,
    *,
    ip: str,
    mail_from: str,
    helo: str,
    receiver: str = "localhost",
    timeout: float = DEFAULT_SPF_TIMEOUT,
    cache: SpfCache | None = None,
) -> SpfVerdict:
    """Evaluate ``check_host()`` (RFC 7208 §4) for the MAIL FROM identity, or the HELO
    identity when the reverse-path is null (RFC 7208 §2.4).

    ``ip`` is the SMTP client address, ``mail_from`` the bare reverse-path (``""`` for
    ``<>``), ``helo`` the EHLO/HELO argument, ``receiver`` our host name (the ``%{r}`` macro).
    With ``cache``, a fresh earlier result for the same inputs is returned without evaluating,
    and a new one is stored.
    """
    identity, domain, sender = _sender_domain(mail_from, helo)
    try:
        client = str(ipaddress.ip_address(ip))
    except ValueError:
        return SpfVerdict(SpfResult.PERMERROR, identity, domain, sender, ip, "invalid client IP")
    if not sender:
        return SpfVerdict(SpfResult.NONE, identity, domain, sender, client)
    key = (client, sender, helo.lower(), receiver)
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        raw, explanation = hit
    else:
        bridge = _Bridge(asyncio.get_running_loop(), resolver, time.monotonic() + timeout)
        token = _bridge.set(bridge)
        try:
            raw, explanation = await asyncio.to_thread(
                _run_pyspf, client, sender, helo, receiver, timeout
            )
        finally:
            _bridge.reset(token)
        if cache is not None:
            cache.put(key, raw, explanation, bridge.ttls)
    try:
        result = SpfResult(raw)
    except ValueError:
        result = SpfResult.PERMERROR
    checked = mail_from if identity == "mailfrom" else helo
    return SpfVerdict(result, identity, domain.lower(), checked, client, explanation)
