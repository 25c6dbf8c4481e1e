"""index_tokens (the fast, C-level construction) equals its one-run-at-a-time definition."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongmail.core.search_tokens import (
    _ASCII_GAPS_TO_NUL,
    _ascii_tokens_joined,
    _ascii_tokens_masked,
    index_tokens,
    index_tokens_reference,
)

# letters of several scripts, digits, combining marks, full-width forms, separators, NUL,
# underscore (a separator for the index), astral characters
ALPHABET = "ab_ 中文字\u0301é1.\n\t\u00a0ｆｕｌｌＡ–-x\u200b\x00😀𠀀ß"


@given(st.text(alphabet=ALPHABET, max_size=60))
@settings(max_examples=3000, deadline=None)
def test_fast_index_tokens_equal_reference(text: str) -> None:
    assert index_tokens(text) == index_tokens_reference(text)


@given(st.text(max_size=80))
@settings(max_examples=2000, deadline=None)
def test_fast_index_tokens_equal_reference_any_text(text: str) -> None:
    assert index_tokens(text) == index_tokens_reference(text)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
@settings(max_examples=2000, deadline=None)
def test_fast_index_tokens_equal_reference_ascii(text: str) -> None:
    """The ASCII path (bytes translate + split) over every ASCII character: controls, NUL,
    underscore and punctuation are separators exactly as in the reference."""
    assert index_tokens(text) == index_tokens_reference(text)


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
@settings(max_examples=2000, deadline=None)
def test_both_ascii_constructions_equal_reference(text: str) -> None:
    """Each of the two ASCII constructions (the cheaper one is picked by the separator
    density) gives the reference on any ASCII text, whichever the picker would choose."""
    gaps_nul = text.lower().encode("ascii").translate(_ASCII_GAPS_TO_NUL)
    want = index_tokens_reference(text)
    assert _ascii_tokens_joined(gaps_nul) == want
    assert _ascii_tokens_masked(gaps_nul) == want


def test_index_tokens_ascii_after_normalization() -> None:
    """Text that is ASCII only after NFKC + casefold takes the ASCII path with the same
    answer (full-width Latin, the Kelvin sign, long s)."""
    for text in ("ｆｕｌｌ Ｗidth", "\u212a\u017fx", "ß"):
        assert index_tokens(text) == index_tokens_reference(text)


def test_index_tokens_examples() -> None:
    assert index_tokens("") == ""
    assert index_tokens("a") == "a"
    assert index_tokens("Hello, 中文!") == "he el ll lo o 中文 文"
    assert index_tokens("a b") == "a b"
    assert index_tokens("..ab__c..") == "ab b c"
