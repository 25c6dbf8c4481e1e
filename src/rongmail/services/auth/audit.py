"""The security audit log: its chain key and its verification (``rongmail audit verify``).

The log itself is ``audit_log`` (migration 0006), appended by ``actions.auth.do_audit`` and
chained by ``core.auditchain``. This module

* loads (or creates, 0600) the chain key, kept outside the database: ``<data-dir>/keys/
  audit.key`` or ``RONGMAIL_AUDIT_KEY`` (64 hex digits);
* verifies the whole chain: contiguous ``seq`` from the recorded base (a deletion leaves a gap
  or a broken link), each ``prev`` equal to the digest before it (re-ordering, deletion), each
  digest recomputed (any edited column), the head row equal to the last entry (truncation), the
  base equal to the last chained ``audit.pruned`` record, and optionally an external anchor.

Verification reads in pages and never holds the whole log in memory.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rongmail.core.auditchain import GENESIS, entry_digest, same
from rongmail.errors import ConfigError
from rongmail.store.sql import auth as sa

ENV_AUDIT_KEY = "RONGMAIL_AUDIT_KEY"
log = logging.getLogger("rongmail.audit")


def load_or_create_audit_key(path: Path, *, create: bool = True) -> bytes:
    env = os.environ.get(ENV_AUDIT_KEY)
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError(file=ENV_AUDIT_KEY, key=ENV_AUDIT_KEY, problem="expected 64 hex digits")
        return key
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ConfigError(file=str(path), key="audit.key", problem="expected 32 bytes")
        return key
    if not create:
        raise ConfigError(file=str(path), key="audit.key", problem="missing")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key


@dataclass
class VerifyReport:
    ok: bool = True
    checked: int = 0
    first_seq: int = 0
    last_seq: int = 0
    head_digest: str = ""
    problems: list[tuple[int, str]] = field(default_factory=list)  # (seq, problem key)

    def fail(self, seq: int, problem: str) -> None:
        self.ok = False
        if len(self.problems) < 1000:
            self.problems.append((seq, problem))


async def verify_chain(meta: Any, key: bytes, *, expect: tuple[int, str] | None = None,
                       page: int = 2000) -> VerifyReport:
    """Check the chain; ``expect`` is an external anchor ``(seq, digest)`` saved earlier."""
    head: sa.AuditHead = await meta.read(sa.audit_head())
    report = VerifyReport(first_seq=head.base_seq, head_digest=head.digest)
    expected_seq, prev = head.base_seq, head.base_prev
    last_prune: dict[str, Any] | None = None
    after = 0
    anchor_seen = False
    while True:
        rows: list[sa.AuditEntry] = await meta.read(sa.audit_page(after, page))
        if not rows:
            break
        for e in rows:
            if e.seq < expected_seq:
                report.fail(e.seq, "audit.problem.before_base")
                continue
            if e.seq != expected_seq:
                report.fail(expected_seq, "audit.problem.missing")
            if not same(e.prev, prev):
                report.fail(e.seq, "audit.problem.broken_link")
            if not same(entry_digest(key, e.prev, e.fields()), e.digest):
                report.fail(e.seq, "audit.problem.altered")
            if e.action == "audit.pruned":
                last_prune = json.loads(e.detail)
            if expect is not None and e.seq == expect[0]:
                anchor_seen = True
                if not same(e.digest, expect[1]):
                    report.fail(e.seq, "audit.problem.anchor")
            prev, expected_seq = e.digest, e.seq + 1
            report.checked += 1
            report.last_seq = e.seq
        after = rows[-1].seq
    if head.seq != expected_seq - 1 or not same(head.digest, prev):
        report.fail(head.seq, "audit.problem.head")
    base = (head.base_seq, head.base_prev)
    if last_prune is None:
        if base != (1, GENESIS):
            report.fail(head.base_seq, "audit.problem.base")
    elif (last_prune.get("base_seq"), last_prune.get("base_prev")) != base:
        report.fail(head.base_seq, "audit.problem.base")
    if expect is not None and not anchor_seen and expect[0] > 0:
        report.fail(expect[0], "audit.problem.anchor")
    return report
