"""DNS failures, in the one error model (``rongmail.errors``).

A temporary failure (timeout, SERVFAIL, no reachable nameserver) must never be mistaken for
"no such record": SPF turns it into ``temperror`` (RFC 7208 §2.6.6), the queue into a retry.
"""

from __future__ import annotations

from rongmail.errors import TemporaryError, ValidationError


class DnsTemporaryError(TemporaryError):
    """The question could not be answered now (RFC 2308 §7: SERVFAIL, timeouts)."""


class DnsNameError(ValidationError):
    """The name is not a valid DNS name (empty label, label > 63 octets, name > 255)."""

    default_key = "domain.invalid"
