"""Asynchronous DNS for RongMail: one cached resolver shared by every component.

Entry points: :meth:`DnsResolver.from_settings` (production, dnspython over the configured
nameservers) and ``DnsResolver(MemoryTransport())`` (fixed zones for tests and previews).
See ``resolver.py`` for the caching and MX rules, ``types.py`` for the answer shapes.
"""

from rongmail.services.dns.cache import TtlCache
from rongmail.services.dns.errors import DnsNameError, DnsTemporaryError
from rongmail.services.dns.memory import MemoryTransport
from rongmail.services.dns.resolver import DnsResolver, normalize_name, reverse_name, txt_text
from rongmail.services.dns.transport import DnspythonTransport
from rongmail.services.dns.types import (
    Answer,
    DnsTransport,
    MxRecord,
    MxResult,
    Rcode,
    TlsaRecord,
)

__all__ = [
    "Answer",
    "DnsNameError",
    "DnsResolver",
    "DnsTemporaryError",
    "DnsTransport",
    "DnspythonTransport",
    "MemoryTransport",
    "MxRecord",
    "MxResult",
    "Rcode",
    "TlsaRecord",
    "TtlCache",
    "normalize_name",
    "reverse_name",
    "txt_text",
]
