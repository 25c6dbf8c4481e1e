"""DKIM (RFC 6376) verification and signing, RSA and Ed25519 (RFC 8463).

Role: verify every ``DKIM-Signature`` of an incoming message and report one result per
signature; sign outgoing mail with each of a domain's keys (RSA-2048 and Ed25519 together, as
RFC 8463 §3 recommends during the transition); generate key pairs with the DNS TXT record text.

Who does what: signing and key generation use dkimpy and ``cryptography``. Verification uses
:mod:`.dkim_verify`, which gives dkimpy's verdicts (result and reason) for a third or less of
its CPU time: it reuses dkimpy's tag and key-record checks but parses, canonicalises and
hashes once per message and verifies RSA with OpenSSL. dkimpy's own verifier stays here as
:func:`_verify_all_dkimpy`, the reference of the differential tests.

How DNS reaches the verifier: the key names (``s._domainkey.d``) are known from the signature
headers before verification starts, so we fetch them all with the async :class:`DnsResolver`
first, then verify in a worker thread with a ``dnsfunc`` that only reads that prefetched map.
Verification never touches the network and the event loop never does crypto.

Result mapping (RFC 8601 §2.7.1): a key that cannot be fetched now -> ``temperror``; no key
record, a malformed key, tag list, ``c=`` or message -> ``permerror``; a body hash or signature
mismatch, an expired signature and (as dkimpy has it) a signature tag dkimpy's checks refuse
-> ``fail``; a verified signature -> ``pass``. Bad input never raises out of the verifier.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.util import InvalidTagValueList

from rongmail.errors import ConfigError
from rongmail.services.dns import DnsNameError, DnsResolver, DnsTemporaryError
from rongmail.services.mailauth.dkim_verify import (
    DID_NOT_VERIFY,
    ParsedMessage,
    parse_message,
    parse_tags,
    verify_signature,
)

#: RFC 8301 §3.2: verifiers MUST NOT consider RSA keys under 1024 bits valid.
MIN_RSA_BITS = 1024
#: Verify at most this many signatures per message (RFC 6376 §6.1 lets verifiers limit work).
MAX_SIGNATURES = 8

Algorithm = Literal["rsa-sha256", "ed25519-sha256"]


@dataclass(frozen=True, slots=True)
class DkimResult:
    """The verdict on one signature, as RFC 8601 reports it."""

    result: str  # pass | fail | neutral | temperror | permerror
    domain: str  # d=
    selector: str  # s=
    algorithm: str  # a=
    identity: str  # i=
    #: The first 12 characters of b= (RFC 6008 ``header.b``) to tell signatures apart.
    header_b: str
    reason: str = ""


#: The last :func:`split_header_section` answer, ``(message, fields)``.
_LAST_SPLIT: tuple[bytes, tuple[tuple[bytes, bytes], ...]] | None = None


def split_header_section(message: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """Header fields as (name, raw value) pairs, unfolding nothing (RFC 5322 §2.2).

    One inbound message is split by DKIM (key names, then verification), ARC and DMARC
    in turn; the last answer is kept (a tuple: nobody can change it) and given again for the
    *same* ``message`` object. ``bytes`` are immutable and the entry holds a reference, so an
    identical object is an identical input; the entry is replaced whole, so callers on
    worker threads never see a torn one."""
    global _LAST_SPLIT
    last = _LAST_SPLIT
    if last is not None and last[0] is message:
        return last[1]
    fields = _split_header_section(message)
    if type(message) is bytes:  # never remember a mutable bytearray or memoryview
        _LAST_SPLIT = (message, fields)
    return fields


def _split_header_section(message: bytes) -> tuple[tuple[bytes, bytes], ...]:
    end = message.find(b"\r\n\r\n")
    sep = b"\r\n"
    if end < 0 or (0 <= message.find(b"\n\n") < end):
        end, sep = message.find(b"\n\n"), b"\n"
    head = message if end < 0 else message[:end]
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(sep):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + sep + line)
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name.strip(), value))
    return tuple(fields)


def signature_tags(value: bytes) -> dict[bytes, bytes] | None:
    try:
        return parse_tags(re.sub(rb"\r?\n", b"", value))
    except InvalidTagValueList:
        return None


def key_names(message: bytes, header_names: Sequence[bytes]) -> list[str]:
    """The ``selector._domainkey.domain`` names the given signature headers point at."""
    wanted = {h.lower() for h in header_names}
    names: list[str] = []
    for name, value in split_header_section(message):
        if name.lower() not in wanted:
            continue
        tags = signature_tags(value)
        if not tags or b"s" not in tags or b"d" not in tags:
            continue
        try:
            qname = (tags[b"s"] + b"._domainkey." + tags[b"d"]).decode("ascii").lower()
        except UnicodeDecodeError:
            continue
        if qname not in names:
            names.append(qname)
    return names


def signature_key_names(message: bytes) -> list[str]:
    """The key names of the DKIM-Signatures :func:`verify_dkim` checks; empty exactly when
    it answers ``[]`` at once (no signature pointing at a key)."""
    return key_names(message, [b"DKIM-Signature"])[:MAX_SIGNATURES]


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """Prefetched key records: name -> TXT text, ``None`` for none; names in ``failed``
    could not be fetched now."""

    records: Mapping[str, str | None]
    failed: frozenset[str]

    def dnsfunc(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        """The ``dnsfunc`` dkimpy calls (same signature as ``dkim.dnsplug.get_txt``)."""
        key = (name.decode("ascii", "replace") if isinstance(name, bytes) else name).lower()
        txt = self.records.get(key.rstrip("."))
        return txt.encode("ascii", "replace") if txt else None


async def prefetch_keys(resolver: DnsResolver, names: Sequence[str]) -> KeyLookup:
    async def one(name: str) -> tuple[str, str | None, bool]:
        try:
            texts = await resolver.txt(name)
        except DnsTemporaryError:
            return name, None, True
        except DnsNameError:
            return name, None, False
        # RFC 6376 §3.6.2.2: one record expected; prefer the one that looks like a key.
        keyish = [t for t in texts if "p=" in t] or texts
        return name, (keyish[0] if keyish else None), False

    got = await asyncio.gather(*(one(n) for n in names))
    return KeyLookup({n: txt for n, txt, _ in got}, frozenset(n for n, _, failed in got if failed))


@lru_cache(maxsize=1024)
def _key_problem(name: str, txt: str) -> str | None:
    """Why dkimpy refuses the key record ``txt`` of ``name`` (the text of its
    ``KeyFormatError`` or ``ValueError``), or ``None`` for a usable key.

    A pure function of the two strings, memoized: parsing a key (base64, ASN.1 in pure
    Python) costs about 50 µs, and a sender's key is the same for all of its messages. Any
    other exception dkimpy's parser raises is a refusal too (bad input never raises)."""
    try:
        dkim.evaluate_pk(name.encode(), txt.encode("ascii", "replace"))
    except (dkim.KeyFormatError, ValueError) as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a parser crash on a hostile record
        return str(e) or type(e).__name__
    return None


class _Report(Protocol):
    """Builds the :class:`DkimResult` of one signature from a result and its reason."""

    def __call__(self, result: str, why: str = "") -> DkimResult: ...


def _precheck(value: bytes, lookup: KeyLookup) -> tuple[DkimResult | None, _Report]:
    """The checks before verification proper, shared by both verifiers (their order is part
    of the verdict): the wrapper's reading of the tags, then the prefetched key record.

    Returns the result to report at once, if any, and the factory for the rest."""
    tags = signature_tags(value) or {}

    def tag(t: bytes) -> str:
        # str.split() drops exactly what re's \s matches in str (str.isspace())
        return "".join(tags.get(t, b"").decode("ascii", "replace").split())

    d, s, a = tag(b"d").lower(), tag(b"s"), tag(b"a").lower()
    ident, b = tag(b"i") or f"@{d}", tag(b"b")[:12]

    def res(result: str, why: str = "") -> DkimResult:
        return DkimResult(result, d, s, a, ident, b, why)

    if not tags or not d or not s:
        return res("permerror", "malformed signature"), res
    name = f"{s}._domainkey.{d}".lower()
    if name in lookup.failed:
        return res("temperror", "key lookup failed"), res
    txt = lookup.records.get(name)
    if not txt:
        return res("permerror", "no key"), res
    problem = _key_problem(name, txt)
    if problem is not None:
        return res("permerror", f"bad key: {problem}"), res
    return None, res


def _verify_one(
    parsed: ParsedMessage, idx: int, value: bytes, lookup: KeyLookup, minkey: int
) -> DkimResult:
    """One signature with the fast verifier (:mod:`.dkim_verify`), dkimpy's verdicts."""
    early, res = _precheck(value, lookup)
    if early is not None:
        return early
    verdict = verify_signature(parsed, idx, lookup.dnsfunc, minkey)
    return res("pass") if verdict is None else res(*verdict)


def _verify_all(message: bytes, lookup: KeyLookup, minkey: int) -> list[DkimResult]:
    sigs = [v for n, v in split_header_section(message) if n.lower() == b"dkim-signature"]
    if not sigs:
        return []
    parsed = parse_message(message)  # once for all signatures: they share body hashes too
    return [
        _verify_one(parsed, idx, value, lookup, minkey)
        for idx, value in enumerate(sigs[:MAX_SIGNATURES])
    ]


def _verify_one_dkimpy(
    message: bytes, idx: int, value: bytes, lookup: KeyLookup, minkey: int
) -> DkimResult:
    """One signature verified by dkimpy itself: the reference the fast verifier is tested
    against (``test_mailauth_dkim_differential.py``); not on the inbound path."""
    early, res = _precheck(value, lookup)
    if early is not None:
        return early
    try:
        ok = dkim.DKIM(message, minkey=minkey).verify(idx=idx, dnsfunc=lookup.dnsfunc)
    except dkim.ValidationError as e:
        return res("fail", str(e))
    except dkim.DKIMException as e:
        return res("permerror", str(e))
    return res("pass") if ok else res("fail", DID_NOT_VERIFY)


def _verify_all_dkimpy(message: bytes, lookup: KeyLookup, minkey: int) -> list[DkimResult]:
    """:func:`_verify_all` with dkimpy doing the verification (reference, see above)."""
    sigs = [v for n, v in split_header_section(message) if n.lower() == b"dkim-signature"]
    return [
        _verify_one_dkimpy(message, idx, value, lookup, minkey)
        for idx, value in enumerate(sigs[:MAX_SIGNATURES])
    ]


async def verify_dkim(
    resolver: DnsResolver, message: bytes, *, minkey: int = MIN_RSA_BITS
) -> list[DkimResult]:
    """Verify every DKIM-Signature (at most :data:`MAX_SIGNATURES`); ``[]`` means none."""
    names = signature_key_names(message)
    if not names:
        return []
    lookup = await prefetch_keys(resolver, names)
    return await asyncio.to_thread(_verify_all, message, lookup, minkey)


# ---------------------------------------------------------------------------------------------
# Signing


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One signing key of a domain. ``private_pem`` is PKCS#8 (or PKCS#1 for RSA) PEM."""

    domain: str
    selector: str
    algorithm: Algorithm
    private_pem: bytes

    def dkimpy_private(self) -> bytes:
        """The key in the form dkimpy's ``sign`` wants: PEM for RSA, base64 seed for Ed25519."""
        if self.algorithm == "rsa-sha256":
            return self.private_pem
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigError(file="dkim", key=self.selector, problem="not an Ed25519 key")
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return base64.b64encode(raw)


def _sign_all(message: bytes, keys: Sequence[DkimKey]) -> bytes:
    lines: list[bytes] = []
    for key in keys:
        signer = dkim.DKIM(message, signature_algorithm=key.algorithm.encode(), minkey=MIN_RSA_BITS)
        try:
            line = signer.sign(
                key.selector.encode(),
                key.domain.encode("idna"),
                key.dkimpy_private(),
                canonicalize=(b"relaxed", b"relaxed"),
                identity=None,
            )
        except dkim.DKIMException as e:
            raise ConfigError(file="dkim", key=key.selector, problem=str(e)) from e
        lines.append(line)
    return b"".join(lines)


async def sign_dkim(message: bytes, keys: Sequence[DkimKey]) -> bytes:
    """Return the ``DKIM-Signature`` header lines (CRLF-terminated) to prepend to
    ``message``, one per key, computed independently so their order does not matter."""
    if not keys:
        return b""
    return await asyncio.to_thread(_sign_all, message, list(keys))


class DkimSigner:
    """Signs outgoing mail with every key of the author domain (RSA and Ed25519 together)."""

    def __init__(self, keys: Mapping[str, Sequence[DkimKey]]) -> None:
        self._keys = {d.lower().rstrip("."): list(k) for d, k in keys.items()}

    def keys_for(self, domain: str) -> list[DkimKey]:
        return self._keys.get(domain.lower().rstrip("."), [])

    async def sign(self, message: bytes, domain: str) -> bytes:
        """The message with its signatures prepended (unchanged if ``domain`` has no key)."""
        header = await sign_dkim(message, self.keys_for(domain))
        return header + message


# ---------------------------------------------------------------------------------------------
# Key generation


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key: DkimKey
    #: The TXT record value, e.g. ``v=DKIM1; k=ed25519; p=...`` (RFC 6376 §3.6.1, RFC 8463 §4.2).
    txt: str

    @property
    def record_name(self) -> str:
        return f"{self.key.selector}._domainkey.{self.key.domain}"

    def zone_line(self, ttl: int = 3600) -> str:
        """A master-file line, the value split into ≤255-octet strings (RFC 1035 §3.3.14)."""
        chunks = [self.txt[i : i + 250] for i in range(0, len(self.txt), 250)]
        quoted = " ".join(f'"{c}"' for c in chunks)
        return f"{self.record_name}. {ttl} IN TXT ( {quoted} )"


def generate_dkim_key(
    domain: str, selector: str, algorithm: Algorithm = "rsa-sha256", *, rsa_bits: int = 2048
) -> GeneratedKey:
    """Create a key pair; returns the private key and the public DNS TXT record text."""
    pem_args = (
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if algorithm == "rsa-sha256":
        rkey = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        pub = rkey.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        txt = f"v=DKIM1; k=rsa; p={base64.b64encode(pub).decode()}"
        pem = rkey.private_bytes(*pem_args)
    else:
        ekey = ed25519.Ed25519PrivateKey.generate()
        pub = ekey.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        txt = f"v=DKIM1; k=ed25519; p={base64.b64encode(pub).decode()}"
        pem = ekey.private_bytes(*pem_args)
    return GeneratedKey(DkimKey(domain.lower(), selector, algorithm, pem), txt)
