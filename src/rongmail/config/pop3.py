"""POP3 settings: limits, timeouts and authentication policy (RFC 1939, RFC 2449, RFC 2595).

Root ``Settings.pop3`` holds one :class:`Pop3Settings`. Listen addresses live with the other
listeners (``Settings.listeners.pop3`` with STLS, ``Settings.listeners.pop3s`` with implicit
TLS); the certificate and the lowest TLS version in ``Settings.tls``.
"""

from __future__ import annotations

from pydantic import Field

from rongmail.config.base import Section


class Pop3Settings(Section):
    """POP3 and POP3S listeners."""

    hostname: str = Field("", description="Name used in the greeting; empty means server.hostname.")
    max_line_length: int = Field(
        8192,
        ge=512,
        description="Longest command line in octets including CRLF. RFC 2449 §4 allows 255 "
        "for commands; SASL responses (RFC 5034 §4) need more.",
    )
    max_commands: int = Field(
        100_000,
        ge=100,
        description="Commands per connection before it is closed (a leave-a-copy client "
        "with a large inbox sends one RETR per new message).",
    )
    max_errors: int = Field(
        20, ge=1, description="Error replies per connection before it is closed."
    )
    max_auth_failures: int = Field(
        3, ge=1, description="Failed logins per connection before it is closed."
    )
    auth_failure_delay: float = Field(
        1.0,
        ge=0,
        description="Seconds to wait before answering a failed login, times the failure "
        "count on this connection.",
    )
    allow_plaintext_auth: bool = Field(
        False,
        description="Accept USER/PASS and SASL before STLS on the plain port (RFC 2595 §2.3 "
        "advises against it).",
    )
    mark_seen: bool = Field(
        True,
        description="At QUIT, flag the messages sent by RETR as read (\\Seen), so webmail "
        "and IMAP clients show them read. TOP never marks.",
    )
    idle_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds to wait for the next command, in every state. RFC 1939 §3 requires "
        "at least ten minutes (600); lower values break that rule.",
    )
    tls_handshake_timeout: float = Field(
        30.0, gt=0, description="Seconds allowed for a TLS handshake."
    )
    max_connections: int = Field(2000, ge=1, description="Concurrent POP3 connections, all ports.")
    max_connections_per_ip: int = Field(
        20, ge=1, description="Concurrent POP3 connections from one client address."
    )
