"""Attachment analyzers: dangerous types, double extensions, archives, Office macros, YARA.

Payloads are decoded from the raw message (:func:`payloads`), then each one is checked by name
and by content. Archives (zip, 7z, tar) are listed and their members read under hard limits
(:class:`Limits`): total expanded bytes, expansion ratio, member count and nesting depth; a
member is never trusted for its declared size, reads stop at the limit. Exceeding a limit is a
finding (``ARCHIVE_BOMB``, ``ARCHIVE_TOO_DEEP``), never an exception. Encrypted archives cannot
be inspected and are flagged. RAR is listed when the optional ``rarfile`` module is present.

Office macros are found with oletools' ``olevba``; YARA rules come from ``rules/*.yar``
(compiled once, matched with a timeout). Everything here is CPU-bound and synchronous: the
async :func:`rongmail.services.spam.scan.analyze` runs it off the event loop. The optional
ClamAV scan is async and lives in :mod:`.clamd`.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.message
import email.policy
import io
import logging
import quopri
import re
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import IO, Any

from rongmail.mime.model import ParsedMessage

from .context import ScanContext
from .phishing import has_credential_form
from .tags import RULES_DIR, Tag, tag

__all__ = ["Limits", "Payload", "attachment_tags", "payloads", "scan_payload"]

log = logging.getLogger(__name__)

DANGEROUS = frozenset(
    "exe scr com pif cpl bat cmd js jse vbs vbe wsf wsh wsc hta lnk iso img vhd vhdx msi msp msc "
    "ps1 psm1 jar reg scf dll chm appx appxbundle msix msixbundle application gadget inf sct "
    "url xll xlam ppam".split()
)
HTML_TYPES = frozenset("htm html shtml xhtml svg mht mhtml".split())
DECOY = frozenset(
    "pdf doc docx xls xlsx ppt pptx rtf txt jpg jpeg png gif bmp zip rar 7z csv odt mp3 mp4".split()
)
ARCHIVES = frozenset("zip 7z rar tar tgz gz jar".split())
OFFICE = frozenset(
    "doc docm dot dotm xls xlsm xlsb xlt xltm ppt pptm pps ppsm docx xlsx pptx".split()
)
_RTLO = "\u202e"
_SPACES_RE = re.compile(r"\s{5,}")


@dataclass(frozen=True, slots=True)
class Limits:
    max_expanded: int = 200 * 1024 * 1024  # total bytes read out of one message's archives
    max_ratio: int = 200  # expanded / compressed, per archive, over 1 MiB
    max_members: int = 5000
    max_depth: int = 3
    max_member_scan: int = 20 * 1024 * 1024  # bytes of one member handed to YARA / olevba
    yara_timeout: int = 5


@dataclass(frozen=True, slots=True)
class Payload:
    part_id: str
    filename: str
    content_type: str
    data: bytes


def payloads(
    raw: bytes, parsed: ParsedMessage | None = None, max_parts: int = 100
) -> list[Payload]:
    """Decoded attachments of ``raw``, numbered like IMAP sections.

    Every non-body leaf counts, also inside attached messages. With ``parsed`` (whose MIME tree
    carries byte offsets into ``raw``) each one is a slice of ``raw`` decoded by its transfer
    encoding, so nothing is parsed twice; without it (or for a tree without offsets) the
    standard library parses ``raw``.
    """
    if parsed is not None and parsed.body.end > 0:
        out = []
        for part in parsed.body.walk():
            if part.type in ("multipart", "message") and part.children:
                continue  # containers: their leaves (also inside attached mail) are visited
            named = part.filename is not None or part.disposition == "attachment"
            if part.type == "text" and not named:
                continue  # a body part
            data = _decode_transfer(raw[part.body_start : part.end], part.encoding)
            out.append(Payload(part.part_id, part.filename or "", part.mime_type, data))
            if len(out) >= max_parts:
                break
        return out
    return _stdlib_payloads(raw, max_parts)


_B64_JUNK_RE = re.compile(rb"[^A-Za-z0-9+/]")


def _decode_transfer(data: bytes, encoding: str) -> bytes:
    """RFC 2045 §6 content-transfer-decoding, lenient (junk characters are skipped)."""
    if encoding == "base64":
        clean = _B64_JUNK_RE.sub(b"", data)
        clean = clean[: len(clean) // 4 * 4 + (4 if len(clean) % 4 > 1 else 0)]
        try:
            return base64.b64decode(clean + b"=" * (-len(clean) % 4))
        except (binascii.Error, ValueError):
            return b""
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _stdlib_payloads(raw: bytes, max_parts: int) -> list[Payload]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out: list[Payload] = []

    def visit(part: email.message.Message, pid: str, depth: int) -> None:
        if len(out) >= max_parts or depth > 20:
            return
        if part.is_multipart():
            sub = part.get_payload()
            for i, child in enumerate(sub if isinstance(sub, list) else []):
                visit(child, f"{pid}.{i + 1}" if pid else str(i + 1), depth + 1)
            return
        ctype = part.get_content_type()
        name = part.get_filename() or ""
        if (
            ctype.startswith("text/")
            and not name
            and part.get_content_disposition() != "attachment"
        ):
            return
        try:
            data = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001 - malformed encodings are data, not errors
            data = None
        out.append(
            Payload(pid or "1", _decode_name(name), ctype, data if isinstance(data, bytes) else b"")
        )

    visit(msg, "", 0)
    return out


def _decode_name(name: str) -> str:
    if "=?" in name:
        try:
            return str(email.header.make_header(email.header.decode_header(name)))
        except Exception:  # noqa: BLE001
            return name
    return name


def _exts(name: str) -> list[str]:
    base = name.replace(_RTLO, "").strip().lower().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return [e.strip() for e in base.split(".")[1:]]


def name_tags(name: str, where: str = "") -> list[Tag]:
    """Checks on a file name alone (also used for archive members)."""
    if not name:
        return []
    exts = _exts(name)
    out = []
    last = exts[-1] if exts else ""
    if _RTLO in name or (
        len(exts) >= 2 and last in DANGEROUS and (exts[-2] in DECOY or _SPACES_RE.search(name))
    ):
        out.append(tag("ATTACH_DOUBLE_EXT", where + name))
    elif last in DANGEROUS:
        out.append(
            tag("ARCHIVE_DANGEROUS_CONTENT" if where else "ATTACH_DANGEROUS_TYPE", where + name)
        )
    elif last in HTML_TYPES and not where:
        out.append(tag("ATTACH_HTML", name))
    return out


@cache
def _yara_rules() -> Any:
    try:
        import yara  # type: ignore[import-not-found]
    except ImportError:
        log.warning("yara-python not installed: YARA attachment rules disabled")
        return None
    files = {p.stem: str(p) for p in sorted(RULES_DIR.glob("*.yar"))}
    return yara.compile(filepaths=files)


def yara_tags(data: bytes, label: str, limits: Limits) -> list[Tag]:
    rules = _yara_rules()
    if rules is None or not data:
        return []
    try:
        matches = rules.match(data=data[: limits.max_member_scan], timeout=limits.yara_timeout)
    except Exception as e:  # noqa: BLE001 - yara.TimeoutError / yara.Error
        log.info("yara scan of %s failed: %s", label, e)
        return []
    return [tag("YARA_MATCH", f"{m.rule}: {label}") for m in matches]


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SUSPICIOUS_WORDS = (
    "shell",
    "createobject",
    "wscript",
    "powershell",
    "urldownloadtofile",
    "callbyname",
    "environ",
    "kill",
    "run",
    "exec",
)


def macro_tags(data: bytes, name: str) -> list[Tag]:
    """OFFICE_MACRO / OFFICE_MACRO_SUSPICIOUS for Office files with VBA or XLM macros."""
    is_ooxml = data[:2] == b"PK" and b"vbaProject.bin" in data[:10_000_000]
    if not (data.startswith(_OLE_MAGIC) or is_ooxml):
        return []
    try:
        from oletools.olevba import VBA_Parser  # type: ignore[import-untyped]
    except ImportError:
        log.warning("oletools not installed: macro detection disabled")
        return []
    try:
        vba = VBA_Parser(name or "attachment", data=data)
        try:
            if not vba.detect_vba_macros():
                return []
            results = vba.analyze_macros() or []
        finally:
            vba.close()
    except Exception as e:  # noqa: BLE001 - olevba raises many types on broken files
        log.info("olevba failed on %s: %s", name, e)
        return []
    autoexec = any(kind == "AutoExec" for kind, _kw, _d in results)
    suspicious = any(
        kind == "Suspicious" and kw.lower() in _SUSPICIOUS_WORDS for kind, kw, _d in results
    )
    if autoexec and suspicious:
        return [tag("OFFICE_MACRO_SUSPICIOUS", name)]
    return [tag("OFFICE_MACRO", name)]


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.expanded = 0


def _read_capped(f: IO[bytes], cap: int) -> bytes:
    chunks, total = [], 0
    while total <= cap:
        b = f.read(min(1 << 20, cap + 1 - total))
        if not b:
            break
        chunks.append(b)
        total += len(b)
    return b"".join(chunks)


Member = tuple[str, bytes] | str


def _zip_members(data: bytes, budget: _Budget) -> Iterator[Member]:
    lim = budget.limits
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        yield "unreadable"
        return
    declared = sum(i.file_size for i in infos)
    if len(infos) > lim.max_members or _too_big(declared, len(data), budget):
        yield "bomb"
        return
    for info in infos:
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            yield "encrypted"
            return
        cap = lim.max_expanded - budget.expanded
        try:
            with zf.open(info) as f:
                content = _read_capped(f, cap)
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError):
            yield "unreadable"
            return
        budget.expanded += len(content)
        if len(content) > cap:  # the member lied about its size
            yield "bomb"
            return
        yield info.filename, content


def _too_big(declared: int, compressed: int, budget: _Budget) -> bool:
    lim = budget.limits
    if declared > lim.max_expanded - budget.expanded:
        return True
    return declared > 1 << 20 and declared > lim.max_ratio * max(compressed, 1)


class _CapExceeded(Exception):
    pass


def _7z_members(data: bytes, budget: _Budget) -> Iterator[Member]:
    try:
        import py7zr  # type: ignore[import-untyped]
    except ImportError:
        return
    files: dict[str, bytearray] = {}

    class Sink(py7zr.Py7zIO):  # type: ignore[misc]
        """In-memory member writer that stops extraction at the expansion budget."""

        def __init__(self, name: str) -> None:
            self.buf = files.setdefault(name, bytearray())

        def write(self, s: bytes | bytearray) -> int:
            budget.expanded += len(s)
            if budget.expanded > budget.limits.max_expanded:
                raise _CapExceeded
            self.buf += s
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return len(self.buf)

    class Factory(py7zr.WriterFactory):  # type: ignore[misc]
        def create(self, filename: str) -> Sink:
            return Sink(filename)

    try:
        with py7zr.SevenZipFile(io.BytesIO(data)) as z:
            if z.needs_password():
                yield "encrypted"
                return
            infos = [i for i in z.list() if not i.is_directory]
            declared = sum(i.uncompressed for i in infos)
            if len(infos) > budget.limits.max_members or _too_big(declared, len(data), budget):
                yield "bomb"
                return
            z.extractall(factory=Factory())
    except _CapExceeded:
        yield "bomb"
        return
    except Exception:  # noqa: BLE001 - py7zr raises a zoo of exception types
        yield "unreadable"
        return
    for name, buf in files.items():
        yield name, bytes(buf)


def _tar_members(data: bytes, budget: _Budget) -> Iterator[Member]:
    lim = budget.limits
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data))
        infos = [m for m in tf.getmembers()[: lim.max_members + 1] if m.isfile()]
    except (tarfile.TarError, OSError, EOFError):
        yield "unreadable"
        return
    if len(infos) > lim.max_members or _too_big(sum(m.size for m in infos), len(data), budget):
        yield "bomb"
        return
    for m in infos:
        f = tf.extractfile(m)
        if f is None:
            continue
        content = _read_capped(f, lim.max_expanded - budget.expanded)
        budget.expanded += len(content)
        yield m.name, content


def _rar_members(data: bytes, budget: _Budget) -> Iterator[Member]:
    """Names only: extracting RAR needs an external tool, which we do not run."""
    try:
        import rarfile  # type: ignore[import-not-found]
    except ImportError:
        return
    try:
        rf = rarfile.RarFile(io.BytesIO(data))
        if rf.needs_password():
            yield "encrypted"
            return
        names = [i.filename for i in rf.infolist()][: budget.limits.max_members]
    except Exception:  # noqa: BLE001
        yield "unreadable"
        return
    for name in names:
        yield name, b""


_READERS = {"zip": _zip_members, "7z": _7z_members, "tar": _tar_members, "rar": _rar_members}


def _archive_kind(data: bytes, name: str) -> str | None:
    if data[:4] == b"PK\x03\x04" and not name.lower().endswith(tuple(f".{e}" for e in OFFICE)):
        return "zip"
    if data[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if data[:4] == b"Rar!":
        return "rar"
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    if data[:2] == b"\x1f\x8b" and name.lower().endswith((".tgz", ".tar.gz")):
        return "tar"
    return None


def scan_payload(
    name: str, data: bytes, limits: Limits, *, depth: int = 0, budget: _Budget | None = None
) -> list[Tag]:
    """All content checks of one file (recursing into archives)."""
    budget = budget or _Budget(limits)
    where = "" if depth == 0 else f"[{depth}] "
    out = name_tags(name, where)
    label = f"{where}{name or '(unnamed)'}"
    kind = _archive_kind(data, name)
    if kind is None and _exts(name)[-1:] in (["zip"], ["7z"], ["rar"]):
        out.append(tag("ARCHIVE_UNREADABLE", label))  # named as an archive, but is not one
        return out
    if kind is None:
        out.extend(macro_tags(data, name))
        out.extend(yara_tags(data, label, limits))
        if _exts(name)[-1:] and _exts(name)[-1] in HTML_TYPES:
            if has_credential_form(data[:2_000_000].decode("utf-8", "replace")):
                out.append(tag("HTML_CREDENTIAL_FORM", name))
        return out
    if depth >= limits.max_depth:
        out.append(tag("ARCHIVE_TOO_DEEP", label))
        return out
    problems = {
        "encrypted": "ARCHIVE_ENCRYPTED",
        "unreadable": "ARCHIVE_UNREADABLE",
        "bomb": "ARCHIVE_BOMB",
    }
    for m in _READERS[kind](data, budget):
        if isinstance(m, str):
            out.append(tag(problems[m], label))
            break
        mname, content = m
        out.extend(scan_payload(mname, content, limits, depth=depth + 1, budget=budget))
    return out


_HEADER_START_RE = re.compile(rb"^(?:[!-9;-~]{1,76}:[^\n]*\r?\n)+", re.M)


def _looks_like_message(data: bytes) -> bool:
    """An unnamed part that is really a mail (a base64 ``message/rfc822``, a defect)."""
    head = data[:4096]
    m = _HEADER_START_RE.match(head)
    return m is not None and b"content-type:" in m.group(0).lower()


def attachment_tags(
    msg: ParsedMessage, ctx: ScanContext, limits: Limits | None = None
) -> list[Tag]:
    """Name checks from the parsed message; content checks when ``ctx.raw`` is available."""
    limits = limits or Limits()
    if ctx.raw is None:
        out: list[Tag] = []
        for a in msg.attachments:
            out.extend(name_tags(a.filename or ""))
        return out
    return list(dict.fromkeys(_message_tags(ctx.raw, msg, limits, _Budget(limits), 0)))


def _message_tags(
    raw: bytes, msg: ParsedMessage | None, limits: Limits, budget: _Budget, depth: int
) -> list[Tag]:
    out: list[Tag] = []
    for p in payloads(raw, msg):
        if not p.filename and depth < limits.max_depth and _looks_like_message(p.data):
            out.extend(_message_tags(p.data, None, limits, budget, depth + 1))
            continue
        out.extend(scan_payload(p.filename, p.data, limits, budget=budget))
    return out
