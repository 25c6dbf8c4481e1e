"""Corpus test: every message of the shared MIME corpora parses, and Chinese mail decodes.

Data: ``../shared/data`` (or ``$RONGMAIL_SHARED_DATA``), folders ``mime_test_messages`` and
``trec06c_subset``, each a ``.tar.zst`` read as a stream (``zstandard`` module if installed,
else the ``zstd`` command). Nothing is extracted to disk and no message text is printed.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rongmail.mime.model import MimePart
from rongmail.mime.parse import parse_message

pytestmark = pytest.mark.corpus

#: Per-message wall-clock bound: hostile inputs (3 MB nesting, huge headers) included.
MAX_SECONDS_PER_MESSAGE = 2.0
NO_FFFD_SHARE = 0.995


def iter_tar_zst(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(member name, bytes)`` for every regular file of a ``.tar.zst`` archive."""
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        zstandard = None
    if zstandard is not None:
        with path.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as stream:
            yield from _members(tarfile.open(fileobj=stream, mode="r|"))
        return
    exe = shutil.which("zstd")
    if exe is None:
        pytest.skip("neither the zstandard module nor the zstd command is available")
    proc = subprocess.Popen([exe, "-dcq", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield from _members(tarfile.open(fileobj=proc.stdout, mode="r|"))
    finally:
        proc.stdout.close()
        proc.wait()


def _members(tf: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    with tf:
        for member in tf:
            if member.isfile():
                f = tf.extractfile(member)
                if f is not None:
                    yield member.name, f.read()


def _archive(shared_data: Path, folder: str) -> Path:
    found = sorted((shared_data / folder).glob("*.tar.zst"))
    if not found:
        pytest.skip(f"{folder}/*.tar.zst not found under {shared_data}")
    return found[0]


def _check_offsets(part: MimePart, lo: int, hi: int) -> None:
    assert lo <= part.start <= part.body_start <= part.end <= hi, part.part_id
    assert part.size == part.end - part.body_start
    if part.type == "multipart":
        assert part.children, part.part_id
    if part.mime_type == "message/rfc822":
        assert len(part.children) == 1, part.part_id
    for child in part.children:
        _check_offsets(child, part.body_start, part.end)


def test_mime_test_messages_parse(shared_data: Path) -> None:
    skip = (".csv", ".md", "COPYING")
    count = 0
    for name, raw in iter_tar_zst(_archive(shared_data, "mime_test_messages")):
        if name.endswith(skip):
            continue
        t0 = time.perf_counter()
        m = parse_message(raw)
        elapsed = time.perf_counter() - t0
        assert elapsed < MAX_SECONDS_PER_MESSAGE, (name, elapsed)
        assert not [d for d in m.defects if d.startswith("parser-error")], name
        _check_offsets(m.body, 0, len(raw))
        m.body.to_json()
        count += 1
    assert count >= 400


def test_trec06c_decodes_without_replacement(shared_data: Path) -> None:
    total = subjects_ok = bodies_ok = nonempty = 0
    for name, raw in iter_tar_zst(_archive(shared_data, "trec06c_subset")):
        if "/data/" not in f"/{name}":
            continue
        m = parse_message(raw)
        assert not [d for d in m.defects if d.startswith("parser-error")], name
        _check_offsets(m.body, 0, len(raw))
        total += 1
        subjects_ok += "\ufffd" not in m.subject
        bodies_ok += "\ufffd" not in m.text_body
        nonempty += bool(m.text_body.strip())
    assert total >= 11_000
    assert subjects_ok / total >= NO_FFFD_SHARE, subjects_ok / total
    assert bodies_ok / total >= NO_FFFD_SHARE, bodies_ok / total
    # "multipart without boundary lines" must show its text, not an empty body.
    assert nonempty / total >= 0.99, nonempty / total
