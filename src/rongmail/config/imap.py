"""IMAP settings: limits, timeouts and authentication policy (RFC 9051, RFC 2595, RFC 7889).

Root ``Settings.imap`` holds one :class:`ImapSettings`. Listen addresses live with the other
listeners (``Settings.listeners.imap`` with STARTTLS, ``Settings.listeners.imaps`` with
implicit TLS, RFC 8314); the certificate and the lowest TLS version in ``Settings.tls``; the
largest message (``APPENDLIMIT``) in ``Settings.limits.max_message_bytes``.
"""

from __future__ import annotations

from pydantic import Field

from rongmail.config.base import Section


class ImapSettings(Section):
    """IMAP and IMAPS listeners."""

    hostname: str = Field(
        "", description="Name used in the greeting; empty means server.hostname."
    )
    allow_plaintext_auth: bool = Field(
        False,
        description="Accept LOGIN and AUTHENTICATE before STARTTLS on the plain port "
        "(RFC 9051 §11.1: otherwise the server announces LOGINDISABLED).",
    )
    max_line_length: int = Field(
        64 * 1024,
        ge=8192,
        description="Longest command line in octets, literals excluded (RFC 7162 §4 asks "
        "servers to accept at least 8192).",
    )
    max_literal_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest literal outside APPEND (search strings, names)."
    )
    max_command_bytes: int = Field(
        1024 * 1024, ge=64 * 1024, description="Largest whole command outside APPEND."
    )
    multiappend_size_factor: int = Field(
        4,
        ge=1,
        description="Largest whole APPEND/MULTIAPPEND command (RFC 3502), as a multiple of "
        "limits.max_message_bytes; all its messages are stored in one transaction.",
    )
    max_pipelined: int = Field(
        64, ge=1, description="Commands accepted from one read before replies must drain."
    )
    max_sessions_per_user: int = Field(
        50, ge=1, description="Concurrent authenticated sessions of one account."
    )
    max_sessions_per_ip: int = Field(
        50, ge=1, description="Concurrent connections from one client address."
    )
    idle_timeout: float = Field(
        1800.0,
        ge=1800.0,
        description="Seconds of silence before an authenticated session is closed "
        "(RFC 9051 §5.4: at least 30 minutes).",
    )
    login_timeout: float = Field(
        60.0, gt=0, description="Seconds allowed to log in after connecting."
    )
    max_auth_failures: int = Field(
        3, ge=1, description="Failed logins per connection before it is closed."
    )
    auth_failure_delay: float = Field(
        1.0, ge=0, description="Seconds to wait before answering a failed login."
    )
    max_bad_commands: int = Field(
        20, ge=1, description="BAD replies per connection before it is closed."
    )
