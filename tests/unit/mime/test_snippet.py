"""make_preview equals its regex definition (control characters dropped, white space runs
collapsed) on any text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.mime.snippet import PREVIEW_CHARS, make_preview

_WS = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_CTRL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def preview_reference(text: str, limit: int = PREVIEW_CHARS) -> str:
    head = text[: 8 * PREVIEW_CHARS]
    kept = [ln for ln in head.splitlines() if not ln.lstrip().startswith(">")]
    if kept and any(ln.strip() for ln in kept):
        head = " ".join(kept)
    out = _WS.sub(" ", _CTRL.sub("", head)).strip()
    if len(out) > limit:
        out = out[: limit - 1].rstrip() + "\u2026"
    return out


# every character class the two passes treat differently: C0 controls (some are white space,
# some are dropped), DEL, NEL, NBSP, ideographic space, zero width space, BOM, line and
# paragraph separators, quote marks, letters of several scripts
ALPHABET = (
    "ab 中文\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x00\x01\x08\x0e\x7f\x85\u00a0\u3000\u200b\ufeff"
    "\u2028\u2029\u2003>é"
)


@given(st.text(alphabet=ALPHABET, max_size=400), st.integers(min_value=1, max_value=300))
@settings(max_examples=3000, deadline=None)
def test_preview_equals_reference(text: str, limit: int) -> None:
    assert make_preview(text, limit) == preview_reference(text, limit)


@given(st.text(max_size=600))
@settings(max_examples=2000, deadline=None)
def test_preview_equals_reference_any_text(text: str) -> None:
    assert make_preview(text) == preview_reference(text)


def test_every_code_point() -> None:
    """Each code point between letters (so white space and deletion show), 300 at a time
    within the scanned head, with no length limit."""
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    for i in range(0, len(cps), 300):
        text = "".join(f"a{chr(cp)}" for cp in cps[i : i + 300])
        assert make_preview(text, 10**6) == preview_reference(text, 10**6), hex(cps[i])
