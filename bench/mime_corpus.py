"""Benchmark: parse the shared MIME corpora; print throughput, U+FFFD-free shares, and the ratio
against CPython's ``email`` package (policy.default + get_body) as the peer.

Usage: ``python bench/mime_corpus.py [--shared-data DIR] [--no-peer]``. Data is located via
``--shared-data``, ``$RONGMAIL_SHARED_DATA`` or ``../shared/data``; archives are streamed
(``zstandard`` module or the ``zstd`` command), nothing is written to disk and no message text
is printed (the TREC corpora must not be disclosed).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

from rongmail.mime.parse import parse_message

CORPORA = ("trec06c_subset", "mime_test_messages")
SKIP = (".csv", ".md", "COPYING", "/full/index")


def locate(arg: str | None) -> Path | None:
    env = os.environ.get("RONGMAIL_SHARED_DATA")
    here = Path(__file__).resolve().parent.parent
    for cand in (arg, env, here.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def iter_tar_zst(path: Path) -> Iterator[tuple[str, bytes]]:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        zstandard = None
    if zstandard is not None:
        with path.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as s:
            yield from _members(tarfile.open(fileobj=s, mode="r|"))
        return
    exe = shutil.which("zstd")
    if exe is None:
        sys.exit("need the zstandard module or the zstd command")
    proc = subprocess.Popen([exe, "-dcq", str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield from _members(tarfile.open(fileobj=proc.stdout, mode="r|"))
    finally:
        proc.stdout.close()
        proc.wait()


def _members(tf: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    with tf:
        for m in tf:
            if m.isfile() and not m.name.endswith(SKIP):
                f = tf.extractfile(m)
                if f is not None:
                    yield m.name, f.read()


def peer_parse(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(msg.get("subject", ""))
    body = msg.get_body(("plain", "html"))  # type: ignore[attr-defined]
    text = body.get_content() if body is not None else ""
    return subject, text if isinstance(text, str) else ""


def run(name: str, messages: list[bytes], *, peer: bool) -> None:
    times: list[float] = []
    subj_ok = body_ok = 0
    t_all = time.perf_counter()
    cpu_all = time.process_time()
    for raw in messages:
        t0 = time.perf_counter()
        m = parse_message(raw)
        times.append(time.perf_counter() - t0)
        subj_ok += "\ufffd" not in m.subject
        body_ok += "\ufffd" not in m.text_body
    elapsed = time.perf_counter() - t_all
    cpu = time.process_time() - cpu_all
    n = len(messages)
    mb = sum(map(len, messages)) / 1e6
    p99 = sorted(times)[int(0.99 * (n - 1))]
    typical = [t for t, r in zip(times, messages, strict=True) if 4000 <= len(r) <= 6000]
    print(f"[{name}] {n} messages, {mb:.1f} MB")
    print(f"  rongmail: {n / elapsed:,.0f} msg/s, {mb / elapsed:.1f} MB/s, "
          f"mean {1e6 * statistics.fmean(times):.0f} us, p99 {1e6 * p99:.0f} us, "
          f"max {1e3 * max(times):.1f} ms; CPU time {n / cpu:,.0f} msg/s")  # fmt: skip
    if typical:
        print(f"  4-6 KB messages ({len(typical)}): mean {1e6 * statistics.fmean(typical):.0f} us")
    print(f"  subjects without U+FFFD: {100 * subj_ok / n:.2f}%  "
          f"bodies without U+FFFD: {100 * body_ok / n:.2f}%")  # fmt: skip
    if not peer:
        return
    p_subj = p_body = p_err = 0
    t_all = time.perf_counter()
    cpu_all = time.process_time()
    for raw in messages:
        try:
            s, b = peer_parse(raw)
        except Exception:  # noqa: BLE001 - the peer raising is part of what we measure
            p_err += 1
            continue
        p_subj += "\ufffd" not in s
        p_body += "\ufffd" not in b
    p_elapsed = time.perf_counter() - t_all
    p_cpu = time.process_time() - cpu_all
    print(f"  peer (stdlib email): {n / p_elapsed:,.0f} msg/s, exceptions {p_err}, "
          f"subjects w/o U+FFFD {100 * p_subj / n:.2f}%, "
          f"bodies {100 * p_body / n:.2f}%")  # fmt: skip
    print(f"  speed ratio rongmail/peer: {p_elapsed / elapsed:.2f}x wall, {p_cpu / cpu:.2f}x CPU")


def typical_message() -> bytes:
    """A ~5 KB multipart/alternative message with a GB2312 subject, UTF-8 text and HTML."""
    from rongmail.mime.build import build_message
    from rongmail.mime.model import Addr

    para = "\u5c0a\u656c\u7684\u5ba2\u6237\uff0c\u60a8\u597d\u3002 Quarterly report follows. "
    text = "\n".join(para * 3 for _ in range(10))
    html = "".join(f"<p>{para * 3}</p>" for _ in range(10))
    return build_message(
        from_=Addr("\u5f20\u4e09", "zhang@example.com"),
        to=[Addr("Li Si", "li@example.com")],
        subject="\u5b63\u5ea6\u62a5\u544a Q3",
        text=text,
        html=html,
        domain="example.com",
    )


def bench_typical(repeat: int = 2000) -> None:
    raw = typical_message()
    parse_message(raw)
    cpu = time.process_time()
    for _ in range(repeat):
        parse_message(raw)
    per = (time.process_time() - cpu) / repeat
    print(f"[typical] {len(raw)} byte multipart/alternative: {1e6 * per:.0f} us CPU per parse")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared-data")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    bench_typical()
    root = locate(args.shared_data)
    if root is None:
        sys.exit("shared data not found (use --shared-data or RONGMAIL_SHARED_DATA)")
    for corpus in CORPORA:
        archives = sorted((root / corpus).glob("*.tar.zst"))
        if not archives:
            print(f"[{corpus}] missing, skipped")
            continue
        messages = [raw for _, raw in iter_tar_zst(archives[0])]
        parse_message(messages[0])  # warm caches
        run(corpus, messages, peer=not args.no_peer)


if __name__ == "__main__":
    main()
