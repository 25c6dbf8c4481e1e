"""DANE for SMTP (RFC 7672): decide when TLSA records apply and check a server certificate.

Rules implemented:

* DANE applies to an MX host only when the MX answer and the host's TLSA answer were both
  DNSSEC-authenticated (AD bit from the configured validating resolver, RFC 7672 §2.2).
* Usable records are DANE-TA(2) and DANE-EE(3) with selector 0/1 and matching type 0/1/2
  (RFC 7672 §3.1.3: PKIX-TA/EE usages are not used for SMTP).
* DANE-EE(3) is checked against the leaf certificate, ignoring names and dates
  (RFC 7672 §3.1.1). DANE-TA(2) needs the peer's chain, which Python 3.11's ``ssl`` does not
  expose; a host with only DANE-TA records therefore gets mandatory but unauthenticated TLS
  (still no downgrade to plaintext), and a DANE-EE mismatch is a failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rongmail.services.dns import TlsaRecord

USAGE_DANE_TA = 2
USAGE_DANE_EE = 3


def usable(records: Sequence[TlsaRecord]) -> list[TlsaRecord]:
    return [
        r for r in records
        if r.usage in (USAGE_DANE_TA, USAGE_DANE_EE) and r.selector in (0, 1) and r.mtype in (0, 1, 2)
    ]  # fmt: skip


def _selected(cert_der: bytes, selector: int) -> bytes:
    if selector == 0:
        return cert_der
    cert = x509.load_der_x509_certificate(cert_der)
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _matches(data: bytes, record: TlsaRecord) -> bool:
    if record.mtype == 0:
        return data == record.data
    if record.mtype == 1:
        return hashlib.sha256(data).digest() == record.data
    return hashlib.sha512(data).digest() == record.data


def verify_leaf(cert_der: bytes, records: Sequence[TlsaRecord]) -> bool | None:
    """``True`` if a DANE-EE record matches the leaf, ``False`` if DANE-EE records exist and
    none matches, ``None`` if there are no DANE-EE records to check (DANE-TA only)."""
    ee = [r for r in usable(records) if r.usage == USAGE_DANE_EE]
    if not ee:
        return None
    for r in ee:
        try:
            if _matches(_selected(cert_der, r.selector), r):
                return True
        except ValueError:
            continue
    return False


def tlsa_for_cert(cert_der: bytes, *, selector: int = 1, mtype: int = 1) -> TlsaRecord:
    """The ``3 selector mtype`` record that pins ``cert_der`` (for the DNS wizard and tests)."""
    data = _selected(cert_der, selector)
    if mtype == 1:
        data = hashlib.sha256(data).digest()
    elif mtype == 2:
        data = hashlib.sha512(data).digest()
    return TlsaRecord(USAGE_DANE_EE, selector, mtype, data)
