"""The fast DKIM verifier (``dkim_verify``) against dkimpy: the same verdict, every time.

Each case runs the inbound path (:func:`_verify_all`) and the reference path that lets dkimpy
verify (:func:`_verify_all_dkimpy`) on the same message and key records, and requires equal
:class:`DkimResult` values: result, reason text (hence the reason class), and the reported
tags. Where dkimpy raises something other than a ``DKIMException`` (it let those escape the
old verifier), the fast path must answer ``permerror`` for that signature instead.

Cases: every signed message of the ``email_auth_vectors`` data set (dkimpy's own test data
with every key record of that set, Stalwart's DKIM and ARC vectors, flanker's
canonicalisation messages signed here) and messages generated and signed with dkimpy here:
RSA and Ed25519, simple and relaxed, ``l=``, altered bodies and headers, extra From fields,
refolded fields, missing, revoked and wrong keys, edited tags, expired ``x=``, malformed
tags, huge fields, and a seeded random mutation run.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import dkim
import pytest
from authvectors import SKIP_REASON, vectors_dir
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rongmail.services.mailauth import GeneratedKey, dkim_verify
from rongmail.services.mailauth.dkim import (
    MAX_SIGNATURES,
    KeyLookup,
    _verify_all,
    _verify_one_dkimpy,
    generate_dkim_key,
    key_names,
    split_header_section,
)

BODY = (
    b"Hi Li,\r\n\r\nThe  quarterly\tfigures are attached.   \r\nRegards,\r\n -- Zhang\r\n\r\n\r\n"
)
HEADERS = (
    b"Received: from mx.example.net by mx.example.org; Fri, 27 Nov 2026 08:00:00 +0800\r\n"
    b"From: Zhang San <zhang@example.org>\r\nTo: li@example.net,\r\n\tbo@example.net\r\n"
    b"Subject: =?UTF-8?B?5rWL6K+V?= quarterly   figures\r\n"
    b"Date: Fri, 27 Nov 2026 08:00:00 +0800\r\nMessage-ID: <1@example.org>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
)
MSG = HEADERS + b"\r\n" + BODY
CANONS = [(h, b) for h in (b"simple", b"relaxed") for b in (b"simple", b"relaxed")]


# ---------------------------------------------------------------------------------------------
# The comparison


def reference(message: bytes, lookup: KeyLookup, minkey: int) -> list[object]:
    """dkimpy's verdict per signature; ``None`` where dkimpy raised a non-DKIM exception."""
    sigs = [v for n, v in split_header_section(message) if n.lower() == b"dkim-signature"]
    out: list[object] = []
    for idx, value in enumerate(sigs[:MAX_SIGNATURES]):
        try:
            out.append(_verify_one_dkimpy(message, idx, value, lookup, minkey))
        except Exception:  # noqa: BLE001 - recorded: the fast path must say permerror
            out.append(None)
    return out


def same_verdicts(
    message: bytes,
    records: Mapping[str, str | None],
    *,
    failed: frozenset[str] = frozenset(),
    minkey: int = 1024,
) -> list[str]:
    """Assert both verifiers agree on ``message``; return the results (for coverage checks)."""
    lookup = KeyLookup(dict(records), failed)
    expected = reference(message, lookup, minkey)
    got = _verify_all(message, lookup, minkey)
    assert len(got) == len(expected)
    for new, old in zip(got, expected, strict=True):
        if old is None:
            assert new.result == "permerror", (new, message[:300])
        else:
            assert new == old, (new, old, message[:300])
    return [r.result for r in got]


def records_for(message: bytes, txt: str | None) -> dict[str, str | None]:
    """Every key name the message's DKIM-Signatures point at, answered with ``txt``."""
    return {name: txt for name in key_names(message, [b"DKIM-Signature"])}


# ---------------------------------------------------------------------------------------------
# Keys and signing


@pytest.fixture(scope="module")
def keys() -> dict[str, GeneratedKey]:
    return {
        "rsa": generate_dkim_key("example.org", "rsa1", "rsa-sha256"),
        "rsa1024": generate_dkim_key("example.org", "rsa1", "rsa-sha256", rsa_bits=1024),
        "ed": generate_dkim_key("example.org", "ed1", "ed25519-sha256"),
        "other_rsa": generate_dkim_key("example.org", "rsa1", "rsa-sha256"),
        "other_ed": generate_dkim_key("example.org", "ed1", "ed25519-sha256"),
    }


def sign(
    message: bytes,
    generated: GeneratedKey,
    canon: tuple[bytes, bytes] = (b"relaxed", b"relaxed"),
    *,
    length: bool = False,
    include: list[bytes] | None = None,
    algorithm: bytes | None = None,
) -> bytes:
    key = generated.key
    alg = algorithm or key.algorithm.encode()
    signer = dkim.DKIM(message, signature_algorithm=alg)
    if include is not None:
        signer.should_not_sign = set()  # let a test sign Received or DKIM-Signature
    line = signer.sign(
        key.selector.encode(), key.domain.encode(), key.dkimpy_private(),
        canonicalize=canon, length=length, include_headers=include,
    )  # fmt: skip
    return line + message


def variants(signed: bytes) -> Iterator[bytes]:
    """The signed message and altered copies (each either still verifies or must not)."""
    yield signed
    yield signed + b"appended line\r\n"  # l= lets this pass
    yield signed.replace(b"quarterly\tfigures", b"quarterly figures")  # relaxed body: same
    yield signed.replace(b"quarterly\tfigures", b"quarterlyfigures")
    yield signed.replace(b"Regards,", b"Regards, ")  # trailing WSP: relaxed body ignores
    yield signed + b"\r\n\r\n"  # trailing empty lines: both ignore
    yield signed.replace(b"Subject: ", b"Subject:  ")  # relaxed header: same
    yield signed.replace(b"Subject: ", b"subject: ")  # relaxed header: same
    yield signed.replace(b"To: li@example.net,\r\n\tbo", b"To: li@example.net, bo")  # refolded
    yield signed.replace(b"quarterly   figures", b"yearly figures")
    yield b"From: Boss <boss@example.org>\r\n" + signed  # extra From on top
    yield signed.replace(b"\r\n\r\n", b"\r\nFrom: Boss <boss@example.org>\r\n\r\n", 1)
    yield signed.replace(b"\r\n", b"\n")  # LF line endings
    yield signed.replace(b"Hi Li,", b"Hi Li,\r")  # a bare CR
    head, _, _ = signed.partition(b"\r\n\r\n")
    yield head + b"\r\n\r\n"  # empty body
    yield head  # no body at all


# ---------------------------------------------------------------------------------------------
# Generated messages


@pytest.mark.parametrize("canon", CANONS, ids=lambda c: b"/".join(c).decode())
@pytest.mark.parametrize("length", [False, True], ids=["full", "l="])
@pytest.mark.parametrize("alg", ["rsa", "ed"])
def test_signed_and_altered(keys, canon, length, alg) -> None:
    signed = sign(MSG, keys[alg], canon, length=length)
    seen: set[str] = set()
    for message in variants(signed):
        for txt in (keys[alg].txt, keys[f"other_{alg}"].txt):
            seen.update(same_verdicts(message, records_for(message, txt)))
    assert {"pass", "fail"} <= seen


def test_both_algorithms_on_one_message(keys) -> None:
    signed = sign(sign(MSG, keys["rsa"]), keys["ed"], (b"simple", b"simple"))
    records = {keys["rsa"].record_name: keys["rsa"].txt, keys["ed"].record_name: keys["ed"].txt}
    assert same_verdicts(signed, records) == ["pass", "pass"]
    for message in variants(signed):
        same_verdicts(message, records)
    swapped = {keys["rsa"].record_name: keys["ed"].txt, keys["ed"].record_name: keys["rsa"].txt}
    # Ed25519 signature, RSA key: fails. RSA signature (256 octets), Ed25519 key: dkimpy
    # raised nacl's ValueError out of the verifier; now a permerror (malformed signature).
    assert same_verdicts(signed, swapped) == ["fail", "permerror"]


def test_key_records(keys) -> None:
    """Missing, failed, revoked, malformed, wrong-type, tlsrpt-only and small keys."""
    signed = sign(MSG, keys["rsa"])
    name = keys["rsa"].record_name
    p = keys["rsa"].txt.split("p=")[1]
    ed_p = keys["ed"].txt.split("p=")[1]
    records = [
        None, "", "v=DKIM1; k=rsa; p=", "v=DKIM1; p=", f"v=DKIM1; k=rsa; p={p[:-8]}",
        "v=DKIM1; k=rsa; p=!!!!", f"v=DKIM2; k=rsa; p={p}", f"k=rsa; p={p}", f"p={p}",
        f"v=DKIM1; k=ed25519; p={p}", f"v=DKIM1; k=ed25519; p={ed_p}", f"v=DKIM1; k=dsa; p={p}",
        f"v=DKIM1; k=rsa; h=sha1; p={p}", f"v=DKIM1; k=rsa; t=s; p={p}",
        f"v=DKIM1; k=rsa; t=y; p={p}", f"v=DKIM1; k=rsa; s=tlsrpt; p={p}",
        f"v=DKIM1; k=rsa; s=email; p={p}", f"v=DKIM1; k=rsa; s=other; p={p}",
        f"v=DKIM1; k=rsa; s=email:tlsrpt; p={p}", f"v=DKIM1; k=rsa; p={p}; p={p}",
        f"v=DKIM1; k=rsa; p={p[:40]} {p[40:]}", "v=DKIM1; k=rsa; p=" + "A" * 5000,
        "garbage", "v=DKIM1; =x; p=", keys["rsa1024"].txt,
    ]  # fmt: skip
    results: set[str] = set()
    for txt in records:
        results.update(same_verdicts(signed, {name: txt}))
    assert same_verdicts(signed, {name: None}, failed=frozenset({name})) == ["temperror"]
    small = sign(MSG, keys["rsa1024"])
    assert same_verdicts(small, {name: keys["rsa1024"].txt}) == ["pass"]
    assert same_verdicts(small, {name: keys["rsa1024"].txt}, minkey=2048) == ["permerror"]
    assert {"pass", "fail", "permerror"} <= results


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    size = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + size + content


def rsa_record(n: int, e: int) -> str:
    """A key record for any (n, e), even ones OpenSSL refuses (DER by hand, RFC 3279 §2.3.1)."""

    def integer(v: int) -> bytes:
        return _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))

    rsa_key = _der(0x30, integer(n) + integer(e))
    alg = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))
    spki = _der(0x30, alg + _der(0x03, b"\x00" + rsa_key))
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()


def test_keys_openssl_refuses_or_too_small(keys) -> None:
    """Moduli too small for the DigestInfo (dkimpy's KeyFormatError), an even exponent and
    an even modulus (OpenSSL refuses them: dkimpy's arithmetic decides), a real key in
    PKCS#1 RSAPublicKey form instead of SubjectPublicKeyInfo."""
    signed = sign(MSG, keys["rsa"])
    name = keys["rsa"].record_name
    loaded = serialization.load_der_public_key(base64.b64decode(keys["rsa"].txt.split("p=")[1]))
    assert isinstance(loaded, rsa.RSAPublicKey)
    pub = loaded.public_numbers()
    pkcs1 = base64.b64encode(_der(0x30, b"".join(
        _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big")) for v in (pub.n, pub.e)
    ))).decode()  # fmt: skip
    results: list[str] = []
    for txt in (
        rsa_record(pub.n, pub.e), rsa_record(pub.n, pub.e + 1), rsa_record(pub.n + 1, pub.e),
        rsa_record((1 << 255) + 1, 65537), rsa_record((1 << 495) + 1, 65537),
        rsa_record((1 << 599) + 1, 3), rsa_record(0, 65537), rsa_record(pub.n, 1),
        f"v=DKIM1; k=rsa; p={pkcs1}",
    ):  # fmt: skip
        results += same_verdicts(signed, {name: txt})
    assert results[0] == "pass" and results[-1] == "pass" and "permerror" in results


def edit_tags(signed: bytes, edit: bytes, value: bytes | None) -> bytes:
    """``signed`` with tag ``edit`` of its (first) DKIM-Signature replaced, or added."""
    head, sep, rest = signed.partition(b"\r\n\r\n")
    first, _, others = head.partition(b"\r\n")
    while others.startswith((b" ", b"\t")):
        line, _, others = others.partition(b"\r\n")
        first += b"\r\n" + line
    pattern = re.compile(rb"(?<=[;:\s])" + re.escape(edit) + rb"=[^;]*")
    if value is None:
        new = re.sub(rb"(?<=[;:\s])" + re.escape(edit) + rb"=[^;]*;?", b"", first)
    elif pattern.search(first):
        new = pattern.sub(lambda _: edit + b"=" + value, first, count=1)
    else:
        new = first.replace(b"DKIM-Signature: ", b"DKIM-Signature: " + edit + b"=" + value + b"; ")
    return new + (b"\r\n" + others if others else b"") + sep + rest


TAG_EDITS = [
    (b"x", b"1667930064"), (b"x", b"99999999999"), (b"x", b"12a"), (b"t", b"99999999999"),
    (b"t", b"1"), (b"t", b"abc"), (b"h", b"from:to"), (b"h", b"to:subject"),
    (b"h", b"from:from:from:dkim-signature:x-missing"), (b"h", b""), (b"h", None),
    (b"l", b"0"), (b"l", b"20"), (b"l", b"999999"), (b"l", b""), (b"l", b"1" * 80),
    (b"l", b"-1"), (b"c", b"relaxed"), (b"c", b"simple"), (b"c", b"foo/relaxed"),
    (b"c", b"relaxed/foo"), (b"c", b"a/b/c"), (b"c", b""), (b"c", b"RELAXED/relaxed"),
    (b"a", b"rsa-sha1"), (b"a", b"rsa-sha512"), (b"a", b"ed25519-sha256"), (b"a", None),
    (b"v", b"2"), (b"v", None), (b"q", b"dns/foo"), (b"q", b"dns/txt"), (b"i", b"@example.org"),
    (b"i", b"user@sub.example.org"), (b"i", b"@other.example"), (b"i", b"example.org"),
    (b"i", b"x.example.org"), (b"d", b"exa(mple).org"), (b"d", b"\xc3\xa9xample.org"),
    (b"bh", b"AAAA"), (b"bh", b"abc!"), (b"bh", b"not base64"), (b"bh", b""),
    (b"bh", None), (b"b", b"AAAA"), (b"b", b"a==="), (b"b", b"*bad*"), (b"b", b""),
    (b"b", None), (b"s", None), (b"d", None), (b"z", b"From:x|To:y"), (b"1x", b"1"),
]  # fmt: skip


@pytest.mark.parametrize("alg", ["rsa", "ed"])
def test_edited_signature_tags(keys, alg) -> None:
    """Every edit makes the signature fail or malformed, exactly as dkimpy says."""
    signed = sign(MSG, keys[alg])
    for tag, value in TAG_EDITS:
        message = edit_tags(signed, tag, value)
        records = records_for(message, keys[alg].txt) or {keys[alg].record_name: keys[alg].txt}
        same_verdicts(message, records)


def test_duplicate_and_malformed_tag_lists(keys) -> None:
    signed = sign(MSG, keys["rsa"])
    records = {keys["rsa"].record_name: keys["rsa"].txt}
    for bad in (b"d=example.org; ", b"; ;", b"x", b" 9=1;", b"=;", b"b=;"):
        message = signed.replace(b"DKIM-Signature: ", b"DKIM-Signature: " + bad, 1)
        same_verdicts(message, records_for(message, keys["rsa"].txt) or records)


def test_messages_dkimpy_reads_strangely(keys) -> None:
    """Header sections dkimpy refuses or reads its own way; it used to crash on some."""
    signed = sign(MSG, keys["rsa"])
    records = {keys["rsa"].record_name: keys["rsa"].txt}
    for message in (
        b" leading continuation\r\n" + signed,
        b"From mbox-separator Fri Nov 27 2026\r\n" + signed,
        signed.replace(b"MIME-Version:", b"MIME Version:"),
        signed.replace(b"MIME-Version: 1.0", b"MIME-Version: 1.0\r\nno colon here"),
        signed.replace(b"Subject:", b"Subject :"),
        b"\r\n" + signed,
        signed.replace(b"\r\n\r\n", b"\r\r\n\r\n", 1),
        signed.replace(b"\r\n\r\n", b"\n\r\n", 1),
        signed.replace(b"\r\n\r\nHi", b"\r\n\nHi", 1),
        signed.replace(b"\r\n", b"\r\n\t", 1),
    ):
        same_verdicts(message, records_for(message, keys["rsa"].txt) or records)


def test_signed_header_lists(keys) -> None:
    """h= chosen by the signer: repeated names, absent fields, the signature itself."""
    base = MSG.replace(b"To: ", b"Cc: cc@example.net\r\nTo: ")
    for include in (
        [b"from"],
        [b"from", b"from"],
        [b"from", b"to", b"cc", b"cc", b"x-absent"],
        [b"from", b"subject", b"received", b"received"],
        [b"From", b"SUBJECT"],
    ):
        signed = sign(base, keys["rsa"], include=include)
        records = {keys["rsa"].record_name: keys["rsa"].txt}
        for message in variants(signed):
            same_verdicts(message, records)
    resigned = sign(sign(MSG, keys["ed"]), keys["rsa"], include=[b"from", b"dkim-signature"])
    records = {keys["rsa"].record_name: keys["rsa"].txt, keys["ed"].record_name: keys["ed"].txt}
    assert same_verdicts(resigned, records) == ["pass", "pass"]
    same_verdicts(resigned.replace(b"a=ed25519", b"a=ed25519 ", 1), records)


def test_rsa_sha1(keys) -> None:
    """RFC 8301 §3.1 forbids rsa-sha1, but dkimpy verifies it, so does the fast path."""
    signed = sign(MSG, keys["rsa"], algorithm=b"rsa-sha1")
    assert same_verdicts(signed, {keys["rsa"].record_name: keys["rsa"].txt}) == ["pass"]


def test_huge_inputs_are_bounded(keys) -> None:
    signed = sign(MSG, keys["rsa"])
    records = {keys["rsa"].record_name: keys["rsa"].txt}
    folded = b"X-Big: " + b"\r\n ".join([b"word"] * 20000) + b"\r\n"
    same_verdicts(folded + signed, records)
    same_verdicts(edit_tags(signed, b"h", b":".join([b"x-%d" % i for i in range(5000)])), records)
    same_verdicts(edit_tags(signed, b"b", b"A" * 100000), records)
    same_verdicts(signed + b" \t" * 50000 + b"\r\n" * 50000, records)


def test_random_mutations(keys) -> None:
    """A seeded run of byte-level mutations of signed messages."""
    rng = random.Random(6376)
    alphabet = b" \t\r\n:;=abcAZ09+/-@.\x00\xff"
    seeds = [sign(MSG, keys["rsa"], c) for c in CANONS] + [sign(MSG, keys["ed"])]
    records = {keys["rsa"].record_name: keys["rsa"].txt, keys["ed"].record_name: keys["ed"].txt}
    for _ in range(300):
        message = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(message))
            op = rng.randrange(3)
            if op == 0:
                del message[pos]
            elif op == 1:
                message.insert(pos, rng.choice(alphabet))
            else:
                message[pos] = rng.choice(alphabet)
        data = bytes(message)
        same_verdicts(data, {**records, **records_for(data, keys["rsa"].txt)})


# ---------------------------------------------------------------------------------------------
# Canonicalisation against dkimpy's functions


def canon_inputs() -> Iterator[bytes]:
    yield MSG
    yield MSG.replace(b"\r\n", b"\n")
    for body in (b"", b"\r\n", b"\r\n\r\n", b"a", b"a\r", b"a\r\r\n", b"a \t \r\n\r\n \r\n",
                 b"\t\r\n", b" a  b \t c\t\r\n", b"x\n\ny\r\n\n", b"\r\r\n\r\n", b"a  "):  # fmt: skip
        yield HEADERS + b"\r\n" + body
    yield HEADERS
    yield HEADERS.rstrip(b"\r\n")
    yield HEADERS + b"X-Cr: a\r"
    yield HEADERS + b"X-Cr: a\r\r\n\r\nbody"
    yield HEADERS.replace(b"\r\n", b"\r\r\n")
    yield b"X-Lf: a\nX-Crlf: b\r\n\tc\n d\r\n\r\n\r\n"
    root = vectors_dir()
    if root is not None:
        for path in sorted((root / "flanker_dkim_canonicalization").glob("email.*")):
            yield path.read_bytes()


def test_parse_and_canonicalisation_match_dkimpy() -> None:
    from dkim.canonicalization import Relaxed, Simple

    for message in canon_inputs():
        parsed = dkim_verify.parse_message(message)
        try:
            headers, body = dkim.rfc822_parse(message)
        except dkim.MessageFormatError:
            assert parsed.error
            continue
        assert [(n, v) for n, v in parsed.headers] == [(n, v) for n, v in headers]
        assert parsed.body == body
        assert parsed.canonical_body(b"simple") == Simple.canonicalize_body(body)
        assert parsed.canonical_body(b"relaxed") == Relaxed.canonicalize_body(body)
        for (n, v), (cn, cv) in zip(headers, Relaxed.canonicalize_headers(headers), strict=True):
            assert dkim_verify._relaxed_header(n, v) == cn + b":" + cv


def test_b_tag_removal_matches_dkimpy() -> None:
    """``b=`` emptied exactly as dkimpy's ``RE_BTAG`` does, on seeded random field values."""
    rng = random.Random(8463)
    pieces = [b"b", b"=", b" ", b"\t", b"\r\n", b"\n", b";", b"bh", b"ab", b"+/", b"==", b"x"]
    values = [b" b=abc; h=from", b" a=1; b=\r\n abc\r\n def\r\n", b";b =  ab ;b= c", b"b="]
    values += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 25))) for _ in range(3000)]
    for value in values:
        assert dkim_verify._B_TAG.sub(b"\\1", value) == dkim.RE_BTAG.sub(b"\\1", value), value


def test_tag_parsing_matches_dkimpy() -> None:
    """:func:`parse_tags` (also the wrapper's and ARC's reading) equals dkimpy's, errors too."""
    from dkim.util import InvalidTagValueList, parse_tag_value

    rng = random.Random(63762)
    pieces = [b"a", b"b", b"1", b"_", b"=", b";", b" ", b"\t", b"\r\n", b"\xff", b"h", b"=="]
    texts = [
        b"", b";", b"a=1", b"a=1;", b" a = 1 ; b=2 ;", b"a=1;a=2", b"a", b"=1", b"1a=1",
        b"a b=1", b"a=b=c", b"a=1;;b=2", b"\r\n a=1;\r\n\tb=\r\n 2", b"\xff=1", b"_a=1",
    ]  # fmt: skip
    texts += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 20))) for _ in range(3000)]
    for text in texts:
        try:
            expected: object = parse_tag_value(text)
        except InvalidTagValueList as e:
            expected = (type(e), str(e))
        try:
            got: object = dkim_verify.parse_tags(text)
        except InvalidTagValueList as e:
            got = (type(e), str(e))
        assert got == expected, text


def test_verify_signature_never_raises() -> None:
    parsed = dkim_verify.parse_message(b"DKIM-Signature: a=b; =\r\n\r\n")
    assert dkim_verify.verify_signature(parsed, 0, lambda name: None, 1024) == (
        "permerror",
        "b' ='",
    )
    assert dkim_verify.verify_signature(parsed, 5, lambda name: None, 1024) == (
        "fail",
        dkim_verify.DID_NOT_VERIFY,
    )


# ---------------------------------------------------------------------------------------------
# The vector data sets


def _vectors() -> Path:
    root = vectors_dir()
    if root is None:
        pytest.skip(SKIP_REASON)
    return root


def _load_stalwart(path: Path) -> tuple[dict[str, str | None], bytes]:
    data = path.read_bytes().replace(b"\r\n", b"\n")
    head, _, message = data.partition(b"\n\n")
    records: dict[str, str | None] = {}
    for line in head.decode().splitlines():
        name, _, value = line.partition(" ")
        records[name.lower().rstrip(".")] = value
    return records, message.replace(b"\n", b"\r\n")


def test_stalwart_dkim_and_arc_vectors() -> None:
    root = _vectors() / "stalwart_mail_auth"
    files = sorted((root / "dkim").glob("*.txt")) + sorted((root / "arc").glob("*.txt"))
    assert files
    seen: set[str] = set()
    for path in files:
        records, message = _load_stalwart(path)
        seen.update(same_verdicts(message, records))
        seen.update(same_verdicts(message.replace(b"\r\n", b"\n"), records))
        same_verdicts(message + b"tampered\r\n", records)
        same_verdicts(message, {})
    assert "pass" in seen


def test_dkimpy_data_messages_with_every_key_record() -> None:
    root = _vectors() / "dkimpy_tests_data"
    messages = [p for p in sorted(root.iterdir()) if b"DKIM-Signature" in p.read_bytes()]
    key_files = sorted(root.glob("*.txt")) + sorted(root.glob("*.dns"))
    assert messages and key_files
    seen: set[str] = set()
    for path in messages:
        message = path.read_bytes()
        for txt in [None] + [k.read_text().strip() for k in key_files]:
            seen.update(same_verdicts(message, records_for(message, txt)))
    assert {"pass", "fail", "permerror"} <= seen


def test_flanker_messages_signed_here(keys) -> None:
    root = _vectors() / "flanker_dkim_canonicalization"
    emails = sorted(root.glob("email.*"))
    assert emails
    records = {keys["rsa"].record_name: keys["rsa"].txt, keys["ed"].record_name: keys["ed"].txt}
    for path in emails:
        raw = path.read_bytes()
        if not re.search(rb"(?im)^from:", raw):
            raw = b"From: someone@example.org\n" + raw
        for canon in CANONS:
            try:
                signed = sign(raw, keys["rsa"], canon)
            except dkim.DKIMException:
                continue
            same_verdicts(signed, records)
            same_verdicts(signed.replace(b"\n", b"\r\n"), records)
            same_verdicts(signed + b" extra \n", records)
        try:
            same_verdicts(sign(raw, keys["ed"], length=True), records)
        except dkim.DKIMException:
            pass
