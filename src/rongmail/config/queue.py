"""Outbound queue settings: retries, routes (smart hosts), DNS resolvers, concurrency, TLS policy.

Root ``Settings.queue`` holds one :class:`QueueSettings`. Defaults follow Postfix where it has
an equivalent (``maximal_queue_lifetime`` 5 days, ``delay_warning_time`` 4 hours,
``default_destination_concurrency_limit`` 20 -> we start lower, 5, because QQ Mail and 163
throttle senders that open many parallel sessions).
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from rongmail.config.base import Section


class DnsSettings(Section):
    """The recursive resolvers RongMail asks (for MX, SPF, DKIM, DMARC, MTA-STS, DANE)."""

    nameservers: tuple[str, ...] = Field(
        (),
        description="Resolver IP addresses; empty uses the system's /etc/resolv.conf. For DANE "
        "point this at a DNSSEC-validating resolver you trust (RFC 7672 §2.1.1).",
    )
    port: int = Field(53, ge=1, le=65535, description="UDP/TCP port of the resolvers.")
    timeout: float = Field(5.0, gt=0, description="Seconds before one question is given up.")
    cache_size: int = Field(10_000, ge=0, description="Answers kept in the shared TTL cache.")
    max_ttl: int = Field(86_400, ge=0, description="Longest time an answer is cached, seconds.")

    @field_validator("nameservers")
    @classmethod
    def _ips(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ns in value:
            ipaddress.ip_address(ns)
        return value


class RetrySettings(Section):
    """When failed deliveries are tried again (RFC 5321 §4.5.4.1)."""

    schedule: tuple[int, ...] = Field(
        (300, 600, 1200, 1800, 3600, 7200, 10800, 14400),
        description="Seconds to wait after the 1st, 2nd... failed attempt; the last value "
        "repeats. RFC 5321 §4.5.4.1 asks for at least 30 minutes between retries once the "
        "first quick ones are done.",
    )
    max_lifetime: int = Field(
        5 * 86_400,
        ge=60,
        description="Give up and bounce this many seconds after the message was queued "
        "(RFC 5321 §4.5.4.1: at least 4-5 days).",
    )
    bounce_lifetime: int = Field(
        2 * 86_400, ge=60, description="Lifetime of our own delivery status notifications."
    )
    delay_warning: int = Field(
        4 * 3600,
        ge=0,
        description="Send one delay notice (RFC 3464 Action: delayed) when a recipient is still "
        "undelivered after this many seconds; 0 disables.",
    )
    jitter: float = Field(
        0.1, ge=0, le=0.5, description="Random spread added to each delay (fraction of it)."
    )


class RouteSettings(Section):
    """Send matching recipients through a smart host instead of their MX (e.g. an overseas
    relay for foreign destinations)."""

    name: str = Field(description="Route name, shown in logs and `rongmail queue show`.")
    match: tuple[str, ...] = Field(
        description="Recipient domains (`example.com`, `*.example.com`), address patterns "
        "(`*@partner.cn`, `ceo@*`) or `*` for everything not local."
    )
    host: str = Field(description="Smart host name or IP address.")
    port: int = Field(587, ge=1, le=65535, description="Smart host port.")
    tls: Literal["starttls", "implicit", "opportunistic", "none"] = Field(
        "starttls",
        description="`starttls` requires STARTTLS with a verified certificate, `implicit` is "
        "TLS from the first byte (port 465), `opportunistic` uses STARTTLS if offered.",
    )
    username: str = Field("", description="AUTH user name; empty sends no AUTH.")
    password: SecretStr = Field(SecretStr(""), description="AUTH password (never logged).")
    source_ip: str = Field(
        "", description="Local address to connect from (multi-IP hosts); empty: the default."
    )

    @field_validator("source_ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        if value:
            ipaddress.ip_address(value)
        return value


class DestinationLimit(Section):
    concurrency: int = Field(5, ge=1, description="Parallel SMTP sessions to this destination.")
    rate_per_minute: int = Field(
        0, ge=0, description="Messages per minute to this destination; 0 means no limit."
    )


def _default_destinations() -> dict[str, DestinationLimit]:
    return {
        "qq.com": DestinationLimit(concurrency=2, rate_per_minute=60),
        "163.com": DestinationLimit(concurrency=2, rate_per_minute=60),
        "126.com": DestinationLimit(concurrency=2, rate_per_minute=60),
    }


class QueueSettings(Section):
    """The durable outbound queue and its delivery agents."""

    retry: RetrySettings = Field(default_factory=RetrySettings)  # type: ignore[arg-type]
    routes: tuple[RouteSettings, ...] = Field(
        (), description="Smart-host routes, first match wins."
    )
    dns: DnsSettings = Field(default_factory=DnsSettings)  # type: ignore[arg-type]
    concurrency: int = Field(
        50, ge=1, description="Deliveries in progress at once, all destinations."
    )
    destination_concurrency: int = Field(
        5, ge=1, description="Default parallel sessions per destination domain or route."
    )
    destinations: dict[str, DestinationLimit] = Field(
        default_factory=_default_destinations,
        description="Per-destination limits overriding the default (keys: recipient domain, "
        "or `route:<name>`).",
    )
    source_ip: str = Field(
        "", description="Local address for direct MX delivery; empty: the system's choice."
    )
    helo_name: str = Field("", description="EHLO name for outbound SMTP; empty: server.hostname.")
    remote_port: int = Field(
        25,
        ge=1,
        le=65535,
        description="TCP port of remote MX hosts. Only test setups change this.",
    )
    connect_timeout: float = Field(30.0, gt=0, description="Seconds to connect to an MX host.")
    command_timeout: float = Field(
        300.0, gt=0, description="Seconds to wait for a reply (RFC 5321 §4.5.3.2: 5 minutes)."
    )
    max_mx_hosts: int = Field(5, ge=1, description="MX hosts tried per attempt.")
    batch_size: int = Field(
        100, ge=1, description="Recipients of one message sent in one SMTP transaction."
    )
    poll_interval: float = Field(
        1.0, gt=0, description="Seconds between scans of the queue for due deliveries."
    )
    mta_sts: bool = Field(True, description="Fetch, cache and enforce MTA-STS (RFC 8461).")
    dane: bool = Field(
        True, description="Use DANE TLSA records when DNSSEC answers are available (RFC 7672)."
    )
    tls_ca_file: str = Field(
        "",
        description="Extra PEM CA bundle for verifying MTA-STS and relay certificates; empty "
        "uses the system store.",
    )
    dsn_locale: Literal["zh-CN", "en"] = Field(
        "zh-CN", description="First language of the human-readable part of bounces."
    )

    @field_validator("source_ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        if value:
            ipaddress.ip_address(value)
        return value

    @model_validator(mode="after")
    def _unique_routes(self) -> QueueSettings:
        names = [r.name for r in self.routes]
        if len(names) != len(set(names)):
            raise ValueError("route names must be unique")
        return self

    def limit_for(self, key: str) -> DestinationLimit:
        got = self.destinations.get(key)
        if got is not None:
            return got
        return DestinationLimit(concurrency=self.destination_concurrency, rate_per_minute=0)
