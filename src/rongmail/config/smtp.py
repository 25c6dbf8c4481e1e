"""SMTP settings: limits, timeouts and policy for inbound MX and submission.

Root ``Settings.smtp`` holds one :class:`SmtpSettings`. Listen addresses live with the other
listeners (``Settings.listeners.smtp/submission/submissions``); certificates and the lowest TLS
version in ``Settings.tls``. Defaults follow
RFC 5321 §4.5.3 (size limits and timeouts) and common MTA practice (Postfix's defaults).
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from rongmail.config.base import Section


class SmtpSettings(Section):
    """Inbound SMTP (MX) and submission."""

    hostname: str = Field(
        "",
        description="Name used in the greeting, EHLO reply and Received headers; empty means "
        "server.hostname.",
    )
    max_message_size: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="Largest message accepted, in octets (SIZE, RFC 1870).",
    )
    max_recipients: int = Field(
        100,
        ge=1,
        description="Recipients per transaction; more get 452 4.5.3 (RFC 5321 §4.5.3.1.10).",
    )
    max_line_length: int = Field(
        12288,
        ge=512,
        description="Longest command line in octets including CRLF; 12288 fits SASL initial "
        "responses (RFC 4954 §4).",
    )
    max_commands: int = Field(
        2000, ge=10, description="Commands per connection before it is closed with 421."
    )
    max_errors: int = Field(
        20, ge=1, description="Error replies per connection before it is closed with 421."
    )
    max_auth_failures: int = Field(
        3, ge=1, description="Failed AUTH attempts per connection before it is closed with 421."
    )
    auth_failure_delay: float = Field(
        1.0,
        ge=0,
        description="Seconds to wait before answering a failed AUTH, times the "
        "failure count on this connection.",
    )
    idle_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds to wait for the next command or data block (RFC 5321 §4.5.3.2.7).",
    )
    session_timeout: float = Field(
        1800.0, gt=0, description="Longest total connection time in seconds."
    )
    tls_handshake_timeout: float = Field(
        30.0, gt=0, description="Seconds allowed for a TLS handshake."
    )
    max_connections: int = Field(1000, ge=1, description="Concurrent SMTP connections, all ports.")
    max_connections_per_ip: int = Field(
        20, ge=1, description="Concurrent SMTP connections from one client address."
    )
    auth_on_mx: bool = Field(
        False, description="Offer AUTH on the MX port (25) too; submission ports always offer it."
    )
    require_tls_for_auth: bool = Field(
        True, description="Refuse AUTH until TLS is active (RFC 4954 §4, 538 5.7.11)."
    )
    relay_networks: tuple[str, ...] = Field(
        (), description="Client networks (CIDR) allowed to relay without AUTH. Empty by default."
    )
    deny_networks: tuple[str, ...] = Field(
        (), description="Client networks (CIDR) refused at connect with 554."
    )
    reject_own_helo: bool = Field(
        True, description="On the MX port, refuse clients that greet with this server's name."
    )
    messages_per_hour_per_user: int = Field(
        500, ge=0, description="Submission rate limit per authenticated account; 0 disables."
    )
    messages_per_minute_per_ip: int = Field(
        120, ge=0, description="Inbound rate limit per unauthenticated client address; 0 disables."
    )

    @field_validator("relay_networks", "deny_networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # raises ValueError -> ValidationError
        return value
