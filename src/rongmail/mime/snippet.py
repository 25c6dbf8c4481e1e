"""Message previews (JMAP ``Email/preview``, RFC 8621 §4.1.4; the webmail list line).

Invariant: a preview is at most :data:`PREVIEW_CHARS` characters (the JMAP limit is 256), holds
no control characters, and has all white space runs collapsed to one space. Quoted reply lines
(``> ...``) are skipped when there is other text, since they repeat an earlier message.
"""

from __future__ import annotations

import re

__all__ = ["PREVIEW_CHARS", "make_preview"]

PREVIEW_CHARS = 256
_WS = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_CTRL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
#: Text beyond this many characters never influences the preview.
_SCAN = 8 * PREVIEW_CHARS


def make_preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """Collapse ``text`` to a one-line preview of at most ``limit`` characters."""
    head = text[:_SCAN]
    lines = head.splitlines()
    kept = [ln for ln in lines if not ln.lstrip().startswith(">")]
    if kept and any(ln.strip() for ln in kept):
        head = " ".join(kept)
    out = _WS.sub(" ", _CTRL.sub("", head)).strip()
    if len(out) > limit:
        out = out[: limit - 1].rstrip() + "\u2026"
    return out
