"""Attachment analyzers: names, archives under limits, encryption, YARA, macros."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from rongmail.services.spam.attachments import (
    Limits,
    attachment_tags,
    name_tags,
    payloads,
    scan_payload,
)
from rongmail.services.spam.context import ScanContext
from rongmail.services.spam.message import parse

from .helpers import msg, raw_message

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
LIMITS = Limits()


def names(tags: list) -> set[str]:  # type: ignore[type-arg]
    return {t.name for t in tags}


def make_zip(files: dict[str, bytes], level: int = zipfile.ZIP_DEFLATED) -> bytes:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", level) as z:
        for n, d in files.items():
            z.writestr(n, d)
    return bio.getvalue()


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("setup.exe", "ATTACH_DANGEROUS_TYPE"),
        ("photo.JS", "ATTACH_DANGEROUS_TYPE"),
        ("invoice.lnk", "ATTACH_DANGEROUS_TYPE"),
        ("disk.iso", "ATTACH_DANGEROUS_TYPE"),
        ("update.hta", "ATTACH_DANGEROUS_TYPE"),
        ("发票.pdf.exe", "ATTACH_DOUBLE_EXT"),
        ("scan.jpg          .scr", "ATTACH_DOUBLE_EXT"),
        ("report\u202efdp.exe", "ATTACH_DOUBLE_EXT"),  # right-to-left override
        ("statement.html", "ATTACH_HTML"),
        ("plan.svg", "ATTACH_HTML"),
    ],
)
def test_name_checks(name: str, want: str) -> None:
    assert want in names(name_tags(name))


@pytest.mark.parametrize("name", ["report.pdf", "合同.docx", "data.2026.csv", "", "noext"])
def test_harmless_names(name: str) -> None:
    assert name_tags(name) == []


def test_payloads_are_decoded_with_section_numbers() -> None:
    raw = raw_message(attachments=[("a.exe", b"MZ..."), ("b.txt", b"hi")])
    got = [(p.part_id, p.filename, p.data) for p in payloads(raw)]
    assert got == [("2", "a.exe", b"MZ..."), ("3", "b.txt", b"hi")]


def test_attachment_tags_from_parsed_names_without_raw() -> None:
    m = msg(attachments=[("invoice.pdf.exe", b"x")])
    assert "ATTACH_DOUBLE_EXT" in names(attachment_tags(m, ScanContext()))


def test_zip_with_executable_inside() -> None:
    z = make_zip({"docs/readme.txt": b"hello", "docs/invoice.exe": b"MZ"})
    assert "ARCHIVE_DANGEROUS_CONTENT" in names(scan_payload("files.zip", z, LIMITS))


def test_nested_zip_depth_limit() -> None:
    inner = make_zip({"a.txt": b"a"})
    for _ in range(4):
        inner = make_zip({"inner.zip": inner})
    assert "ARCHIVE_TOO_DEEP" in names(scan_payload("n.zip", inner, LIMITS))
    shallow = make_zip({"inner.zip": make_zip({"a.txt": b"a"})})
    assert names(scan_payload("s.zip", shallow, LIMITS)) == set()


def test_zip_bomb_by_ratio_and_by_total() -> None:
    bomb = make_zip({"zeros.bin": bytes(20 * 1024 * 1024)})  # ~20 KB compressed
    assert len(bomb) < 100_000
    assert "ARCHIVE_BOMB" in names(scan_payload("b.zip", bomb, LIMITS))
    small = Limits(max_expanded=1024 * 1024)
    z = make_zip({f"f{i}.txt": bytes(range(256)) * 1024 for i in range(8)}, zipfile.ZIP_STORED)
    assert "ARCHIVE_BOMB" in names(scan_payload("t.zip", z, small))


def test_zip_that_lies_about_sizes_is_stopped_at_the_cap() -> None:
    data = bytearray(make_zip({"x.bin": bytes(3 * 1024 * 1024)}))
    # Rewrite the declared uncompressed size (local header + central directory) to 10 bytes.
    lh = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, lh + 22, 10)
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 10)
    tags = names(scan_payload("lie.zip", bytes(data), Limits(max_expanded=1024 * 1024)))
    assert tags & {"ARCHIVE_BOMB", "ARCHIVE_UNREADABLE"}


def test_encrypted_zip_is_flagged() -> None:
    data = bytearray(make_zip({"secret.doc": b"data"}))
    lh = data.find(b"PK\x03\x04")
    struct.pack_into("<H", data, lh + 6, 0x1)  # general purpose flag: encrypted
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, cd + 8, 0x1)
    assert "ARCHIVE_ENCRYPTED" in names(scan_payload("enc.zip", bytes(data), LIMITS))


def test_encrypted_7z_is_flagged() -> None:
    py7zr = pytest.importorskip("py7zr")
    bio = io.BytesIO()
    with py7zr.SevenZipFile(bio, "w", password="secret") as z:
        z.writestr(b"payload", "a.txt")
    assert "ARCHIVE_ENCRYPTED" in names(scan_payload("enc.7z", bio.getvalue(), LIMITS))
    plain = io.BytesIO()
    with py7zr.SevenZipFile(plain, "w") as z:
        z.writestr(b"MZ", "run.exe")
    assert "ARCHIVE_DANGEROUS_CONTENT" in names(scan_payload("p.7z", plain.getvalue(), LIMITS))


def test_not_really_an_archive() -> None:
    assert "ARCHIVE_UNREADABLE" in names(scan_payload("foo.zip", b"hello world", LIMITS))


def test_yara_eicar_direct_inside_zip_and_base64_part() -> None:
    pytest.importorskip("yara")
    assert "YARA_MATCH" in names(scan_payload("eicar.com.txt", EICAR, LIMITS))
    assert "YARA_MATCH" in names(scan_payload("e.zip", make_zip({"e.txt": EICAR}), LIMITS))
    raw = raw_message(attachments=[("harmless.txt", EICAR)])  # base64 transfer encoding
    assert b"EICAR" not in raw
    tags = attachment_tags(parse(raw), ScanContext(raw=raw))
    assert any(t.name == "YARA_MATCH" and "EICAR" in t.detail for t in tags)


def test_yara_pe_under_a_harmless_name_and_html_smuggling() -> None:
    pytest.importorskip("yara")
    pe = bytearray(512)
    pe[0:2] = b"MZ"
    struct.pack_into("<I", pe, 0x3C, 0x80)
    pe[0x80:0x84] = b"PE\0\0"
    assert "YARA_MATCH" in names(scan_payload("photo.jpg", bytes(pe), LIMITS))
    smuggle = (
        b"<script>var b=new Blob([Uint8Array.from(atob(d),c=>c.charCodeAt(0))]);"
        b"a.href=URL.createObjectURL(b);a.download='invoice.iso';a.click()</script>"
    )
    tags = scan_payload("invoice.html", smuggle, LIMITS)
    assert {"ATTACH_HTML", "YARA_MATCH"} <= names(tags)


def test_html_attachment_with_password_form() -> None:
    page = b'<html><form action="https://x.example"><input type="password"></form></html>'
    assert "HTML_CREDENTIAL_FORM" in names(scan_payload("login.htm", page, LIMITS))


def test_office_without_macros_is_quiet() -> None:
    docx = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert names(scan_payload("report.docx", docx, LIMITS)) == set()


def test_ole_garbage_does_not_raise() -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    assert "OFFICE_MACRO" not in names(scan_payload("old.doc", data, LIMITS))


def test_payloads_from_the_parsed_tree_match_the_standard_library() -> None:
    raw = raw_message(attachments=[("a.exe", b"MZ..." * 100), ("b.txt", "中文".encode())])
    assert payloads(raw, parse(raw)) == payloads(raw)


def test_attachment_inside_a_forwarded_message() -> None:
    from email.message import EmailMessage

    inner = raw_message(attachments=[("invoice.pdf.scr", b"MZ")])
    outer = EmailMessage()
    outer["From"] = "a@example.com"
    outer["Subject"] = "Fwd"
    outer.set_content("see attached")
    outer.add_attachment(inner, maintype="message", subtype="rfc822")
    raw = bytes(outer)
    tags = attachment_tags(parse(raw), ScanContext(raw=raw))
    assert "ATTACH_DOUBLE_EXT" in names(tags)
