"""Corpus tests of the spam/phishing/attachment analyzers and the content model.

Data: ``../shared/data`` (or ``$RONGMAIL_SHARED_DATA``), read as streams from the ``.tar.zst``
archives; tests skip with a clear message when the data or ``zstd`` is absent.

* ``spam_filter_rule_cases``: Stalwart's anti-spam cases. Their tag names differ from ours;
  :data:`EQUIVALENT` maps the rules with the same meaning, and for those we require exactly the
  expected tags (both directions) within each family.
* ``mime_test_messages``: every malformed/tricky message goes through all analyzers without an
  exception, within a time bound, emitting only declared tags; named samples give real
  attachment findings.
* ``trec06c_subset``/``spamassassin``: a short immediate-feedback run (evaluation use only; the
  model lives in memory and is discarded) must separate spam from ham; the full evaluation is
  ``bench/spam_eval.py``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rongmail.services.spam import ContentModel, ScanContext, analyze_sync, registry
from rongmail.services.spam.message import parse

pytestmark = pytest.mark.corpus

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def iter_tar_zst(path: Path) -> Iterator[tuple[str, bytes]]:
    exe = shutil.which("zstd")
    if exe is None:
        pytest.skip("the zstd command is not available")
    proc = subprocess.Popen([exe, "-dcq", str(path)], stdout=subprocess.PIPE)
    if proc.stdout is None:
        pytest.skip("zstd produced no output")
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for member in tf:
                if member.isfile():
                    f = tf.extractfile(member)
                    if f is not None:
                        yield member.name, f.read()
    finally:
        proc.stdout.close()
        proc.wait()


def archive(shared_data: Path, folder: str, name: str) -> Path:
    p = shared_data / folder / name
    if not p.exists():
        pytest.skip(f"{p} is absent")
    return p


# --- Stalwart rule cases ------------------------------------------------------------------------

#: Stalwart tag -> our tag, grouped by family; within a family the sets must match exactly.
EQUIVALENT: dict[str, dict[str, str]] = {
    "messageid": {
        "MISSING_MID": "MISSING_MID",
        "INVALID_MSGID": "INVALID_MSGID",
        "MID_RHS_IP_LITERAL": "MID_RHS_IP_LITERAL",
        "MID_BARE_IP": "MID_BARE_IP",
        "MID_RHS_NOT_FQDN": "MID_RHS_NOT_FQDN",
        "MID_MISSING_BRACKETS": "MID_MISSING_BRACKETS",
        "MID_RHS_TOO_LONG": "MID_RHS_TOO_LONG",
    },
    "date": {
        "MISSING_DATE": "MISSING_DATE",
        "INVALID_DATE": "INVALID_DATE",
        "DATE_IN_PAST": "DATE_IN_PAST",
        "DATE_IN_FUTURE": "DATE_IN_FUTURE",
    },
    "auth": {
        "SPF_ALLOW": "SPF_PASS",
        "SPF_FAIL": "SPF_FAIL",
        "SPF_SOFTFAIL": "SPF_SOFTFAIL",
        "DKIM_ALLOW": "DKIM_PASS",
        "DKIM_REJECT": "DKIM_FAIL",
        "DMARC_POLICY_ALLOW": "DMARC_PASS",
        "DMARC_POLICY_QUARANTINE": "DMARC_POLICY_QUARANTINE",
        "DMARC_POLICY_REJECT": "DMARC_POLICY_REJECT",
    },
    "html": {"MIME_HTML_ONLY": "MIME_HTML_ONLY"},
    "subject": {"SUBJ_ALL_CAPS": "SUBJ_ALL_CAPS"},
    "url": {"HOMOGRAPH_URL": "URL_HOMOGRAPH", "SUSPICIOUS_URL": "URL_IP_HOST"},
}
#: Families checked in both directions only on the case files written for them (elsewhere a
#: case lists just the rules it is about).
EXACT_FILES = {"messageid": "messageid.test", "date": "date.test", "subject": "subject.test"}


def stalwart_cases(shared_data: Path) -> list[tuple[str, int, dict[str, str], set[str], bytes]]:
    tarball = archive(shared_data, "spam_filter_rule_cases", "spam_filter_rule_cases.tar.zst")
    out = []
    for name, data in iter_tar_zst(tarball):
        if "stalwart_smtp_antispam/" not in name or not name.endswith(".test"):
            continue
        text = data.decode("utf-8", "replace")
        for i, chunk in enumerate(text.split("<!-- NEXT TEST -->")):
            lines = chunk.lstrip("\n").split("\n")
            params: dict[str, str] = {}
            expect: set[str] = set()
            j = 0
            while j < len(lines) and lines[j].strip():
                key, _, value = lines[j].partition(" ")
                if key == "expect":
                    expect = set(value.split())
                else:
                    params[key] = value.strip()
                j += 1
            raw = "\r\n".join(lines[j + 1 :]).encode()
            out.append((Path(name).name, i, params, expect, raw))
    return out


def _context(params: dict[str, str], raw: bytes) -> ScanContext:
    auth = {
        k.split(".")[0]: v
        for k, v in params.items()
        if k in ("spf.result", "dkim.result", "dmarc.result")
    }
    if "dmarc.policy" in params:
        auth["dmarc_policy"] = params["dmarc.policy"]
    return ScanContext(
        auth=auth,
        envelope_from=params.get("envelope_from"),
        client_ip=params.get("remote_ip"),
        raw=raw,
        now=NOW,
    )


def test_stalwart_rule_cases(shared_data: Path) -> None:
    cases = stalwart_cases(shared_data)
    assert len(cases) > 200
    checked = 0
    failures = []
    for fname, i, params, expect, raw in cases:
        got = {t.name for t in analyze_sync(parse(raw), _context(params, raw))}
        for family, mapping in EQUIVALENT.items():
            want = {mapping[s] for s in expect if s in mapping}
            have = got & set(mapping.values())
            if family == "auth" and not any(k.endswith(".result") for k in params):
                continue
            exact = EXACT_FILES.get(family) == fname
            if (exact and want != have) or (not exact and not want <= have):
                failures.append(f"{fname}#{i} {family}: want {sorted(want)} got {sorted(have)}")
            checked += bool(want) or exact
    assert not failures, "\n".join(failures)
    assert checked >= 40


# --- tricky MIME ---------------------------------------------------------------------------------


def test_mime_corpus_through_all_analyzers(shared_data: Path) -> None:
    tarball = archive(shared_data, "mime_test_messages", "mime_test_messages.tar.zst")
    declared = set(registry())
    findings: dict[str, set[str]] = {}
    n = 0
    for name, raw in iter_tar_zst(tarball):
        if name.endswith((".csv", ".md", "README", "COPYING")):
            continue
        n += 1
        t0 = time.monotonic()
        tags = analyze_sync(parse(raw), ScanContext(raw=raw, model=ContentModel(bits=16), now=NOW))
        assert time.monotonic() - t0 < 5.0, name
        assert {t.name for t in tags} <= declared
        findings[name] = {t.name for t in tags}
    assert n > 300
    html_attachments = {k for k, v in findings.items() if "ATTACH_HTML" in v}
    assert any(k.endswith("enmime/mail/attachment.raw") for k in html_attachments)
    assert any(k.endswith("postal_mime/mimetorture.eml") for k in html_attachments)
    fake_zip = findings[
        next(k for k in findings if k.endswith("enmime/low-quality/unk-charset-part.raw"))
    ]
    assert "ARCHIVE_UNREADABLE" in fake_zip  # named foo_9E5D72.zip, but not a zip


# --- content model, short online runs ---------------------------------------------------------


def _online(items: list[tuple[bytes, bool]]) -> tuple[float, int]:
    """(1-AUC)% of an immediate-feedback run, and the number of messages."""
    model = ContentModel()
    scored = []
    for raw, spam in items:
        f = model.features(parse(raw))
        scored.append((model.logit(f), spam))
        model.learn(f, spam)
    n_spam = sum(s for _, s in scored)
    n_ham = len(scored) - n_spam
    scored.sort(key=lambda x: x[0])
    rank_sum = sum(i + 1 for i, (_, s) in enumerate(scored) if s)
    auc = (rank_sum - n_spam * (n_spam + 1) / 2) / (n_spam * n_ham)
    return 100 * (1 - auc), len(scored)


def _labelled(tarball: Path, limit: int) -> list[tuple[bytes, bool]]:
    files: dict[str, bytes] = {}
    index = b""
    for name, data in iter_tar_zst(tarball):
        if name.endswith("full/index"):
            index = data
        elif "/data/" in name:
            files[name.split("/data/", 1)[1]] = data
    out = []
    for line in index.decode().splitlines():
        lab, rel = line.split()
        out.append((files[rel.split("data/", 1)[1]], lab == "spam"))
    return out[:limit] if limit else out


@pytest.mark.slow
def test_online_model_on_trec06c(shared_data: Path) -> None:
    items = _labelled(archive(shared_data, "trec06c_subset", "trec06c_subset_shared.tar.zst"), 3000)
    one_minus_auc, n = _online(items)
    assert n == 3000 and one_minus_auc < 0.5


@pytest.mark.slow
def test_online_model_on_spamassassin(shared_data: Path) -> None:
    items = _labelled(archive(shared_data, "spamassassin", "spamassassin_shared.tar.zst"), 0)
    items.sort(key=lambda it: hashlib.sha256(it[0][:4096]).digest())  # index is grouped by class
    one_minus_auc, _n = _online(items)
    assert one_minus_auc < 1.0
