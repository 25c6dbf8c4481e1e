"""Risk scoring of a login (pure: inputs in, decision out; no I/O).

Every login on every protocol is scored from signals, each adding its configured weight
(``config.security.RiskSettings``):

=====================  ======================================================================
signal                 fires when
=====================  ======================================================================
``new_device``         the web client (User-Agent digest) was never seen for the account
``new_network``        the IPv4 /24 or IPv6 /48 was never seen for the account
``new_country``        the GeoIP country was never seen for the account
``new_region``         a province/region (``CN-SC``; optional region GeoIP databases) never
                       seen for the account, in a country it has logged in from before
``impossible_travel``  from an unseen network, with a successful login from another country
                       less than ``travel_hours`` ago (a known network is where the
                       user's devices live: the office desktop keeps syncing while its
                       owner travels)
``failure_burst``      ``burst_failures`` failed attempts on the account in 15 minutes
``unusual_hour``       the local time is within the quiet hours
``many_accounts_ip``   the IP acted as ``many_accounts`` distinct accounts in the last hour
``country_hopping``    ``freeze_countries_per_hour`` countries within one hour: freeze at once
=====================  ======================================================================

Novelty signals (device, network, country, region) only fire for an account that has history (a first
login has nothing to compare with). Decisions: ``allow`` below ``step_up_at``; ``step_up`` up to
``freeze_at`` (the web asks for a second factor; IMAP/SMTP/POP3 refuse the account password);
``freeze`` from ``freeze_at``. The reasons are the fired signals, always logged.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from rongmail.config.security import RiskSettings

ALLOW, STEP_UP, FREEZE = "allow", "step_up", "freeze"


class SeenLogin(Protocol):
    """What scoring reads of a past login: one event (``store.sql.auth.LoginEventRow``) or a
    kind of login with its latest time (``store.sql.auth.LoginSeen``); every signal only asks
    whether such a login exists, or how recent the latest one is, so both decide the same."""

    @property
    def at(self) -> int: ...
    @property
    def net(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def region(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LoginContext:
    ip: str
    net: str
    country: str
    device: str  # digest of the User-Agent, "" when the protocol has none
    now: int
    region: str = ""  # "CC-SUB" when a region database knows it, else "" or "CC"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str
    score: int
    reasons: tuple[str, ...]


def network_of(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def device_of(user_agent: str) -> str:
    return hashlib.sha256(user_agent.encode()).hexdigest()[:16] if user_agent else ""


def _new_region(ctx: LoginContext, ok: Sequence[SeenLogin]) -> bool:
    """A known country, a subdivision never seen there, and at least one seen before (an
    account whose history has no region data has nothing to compare with)."""
    if "-" not in ctx.region:
        return False
    cc = ctx.region.split("-", 1)[0]
    seen = {h.region for h in ok if h.region.startswith(cc + "-")}
    return bool(seen) and ctx.region not in seen


def score(cfg: RiskSettings, ctx: LoginContext, history: Sequence[SeenLogin], *,
          recent_failures: int, accounts_from_ip: int, timezone: str,
          reset_at: int = 0) -> Decision:
    """Score one login that presented valid credentials. Country hopping only counts logins
    after ``reset_at`` (an admin's unfreeze)."""
    if not cfg.enabled:
        return Decision(ALLOW, 0, ())
    ok = [h for h in history if h.outcome == "success"]
    reasons: list[tuple[str, int]] = []
    if ok:
        if ctx.device and ctx.device not in {h.device for h in ok if h.device} \
                and any(h.device for h in ok):
            reasons.append(("new_device", cfg.weight_new_device))
        new_net = ctx.net not in {h.net for h in ok}
        if new_net:
            reasons.append(("new_network", cfg.weight_new_network))
        known = {h.country for h in ok if h.country}
        if ctx.country and known and ctx.country not in known:
            reasons.append(("new_country", cfg.weight_new_country))
        elif _new_region(ctx, ok):
            reasons.append(("new_region", cfg.weight_new_region))
        window = cfg.travel_hours * 3600
        if new_net and ctx.country and any(h.country and h.country != ctx.country
                               and ctx.now - h.at < window for h in ok):
            reasons.append(("impossible_travel", cfg.weight_impossible_travel))
    if recent_failures >= cfg.burst_failures:
        reasons.append(("failure_burst", cfg.weight_failure_burst))
    start, end = cfg.quiet_hours
    if start != end:
        try:
            hour = datetime.fromtimestamp(ctx.now, ZoneInfo(timezone)).hour
        except (KeyError, ValueError):
            hour = datetime.fromtimestamp(ctx.now).hour
        quiet = start <= hour < end if start < end else (hour >= start or hour < end)
        if quiet:
            reasons.append(("unusual_hour", cfg.weight_unusual_hour))
    if accounts_from_ip >= cfg.many_accounts:
        reasons.append(("many_accounts_ip", cfg.weight_many_accounts_ip))
    total = sum(w for _, w in reasons)
    names = tuple(n for n, w in reasons if w > 0)
    hour_countries = {h.country for h in history
                      if h.country and ctx.now - h.at < 3600 and h.at > reset_at
                      and h.outcome in ("success", "refused")}
    if ctx.country:
        hour_countries.add(ctx.country)
    if len(hour_countries) >= cfg.freeze_countries_per_hour:
        return Decision(FREEZE, max(total, cfg.freeze_at), (*names, "country_hopping"))
    if total >= cfg.freeze_at:
        return Decision(FREEZE, total, names)
    if total >= cfg.step_up_at:
        return Decision(STEP_UP, total, names)
    return Decision(ALLOW, total, names)
