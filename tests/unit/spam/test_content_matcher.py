"""ContentMatcher (rules.py) answers exactly as ``pattern.search``: the anchored search is a
performance change only, so it is checked against ``re`` on generated texts that do and do not
match, with the case variants ``re.I`` accepts (upper case, dotted/dotless i, long s, Kelvin)."""

from __future__ import annotations

import random
import re
import re._constants as C
import re._parser as P

import pytest

from rongmail.services.spam.rules import (
    ContentMatcher,
    content_matchers,
    content_rules,
    fold_case,
)

#: what re.I lets stand for an ASCII letter besides its two cases
_VARIANTS = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}
_NOISE = "abcxyz XYZ\t\n:：,.0123456789\u4e00\u5fae\u4fe1\u00e9\u0130\u017f\u212a"


def _sample(items: list[tuple[object, object]], rnd: random.Random) -> str:
    """A random string matched by the parsed pattern ``items`` (the constructs the content
    rules use), with letters in random re.I-equivalent forms."""
    out = []
    for op, av in items:
        if op is C.LITERAL:
            ch = chr(av)  # type: ignore[arg-type]
            forms = ch + ch.upper() + _VARIANTS.get(ch.lower(), "")
            out.append(rnd.choice(forms))
        elif op is C.SUBPATTERN:
            out.append(_sample(av[3].data, rnd))  # type: ignore[index]
        elif op is C.BRANCH:
            out.append(_sample(rnd.choice(av[1]).data, rnd))  # type: ignore[index]
        elif op is C.IN:
            choices = []
            for o, a in av:  # type: ignore[attr-defined]
                if o is C.LITERAL:
                    choices.append(chr(a))
                elif o is C.RANGE:
                    choices.append(chr(rnd.randint(a[0], a[1])))
                elif o is C.CATEGORY:
                    choices.append(" ")
            out.append(rnd.choice(choices or ["-"]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av  # type: ignore[misc]
            n = rnd.randint(lo, min(hi, lo + 3))
            out.extend(_sample(sub.data, rnd) for _ in range(n))
        elif op is C.ANY:
            out.append(rnd.choice("xY \u4e00"))
        else:
            raise AssertionError(f"sampler does not know {op}")
    return "".join(out)


def _noise(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(_NOISE) for _ in range(n))


def test_fold_case_keeps_positions_and_maps_re_ignorecase_letters() -> None:
    alnum = re.compile("[a-z0-9]", re.I)
    for cp in range(0x110000):
        ch = chr(cp)
        folded = fold_case(ch)
        assert len(folded) == 1, hex(cp)
        if alnum.fullmatch(ch):
            # every letter re.I matches this character to is exactly its folded form
            hits = [a for a in "abcdefghijklmnopqrstuvwxyz0123456789" if re.fullmatch(a, ch, re.I)]
            assert hits == [folded], (hex(cp), hits, folded)


def test_every_content_rule_is_anchored() -> None:
    """All shipped patterns take the fast path (a new rule that does not is still correct,
    only slower: then this test names it)."""
    slow = [
        m.pattern.pattern for ms in content_matchers().values() for m in ms if m.anchors is None
    ]
    assert slow == []


@pytest.mark.parametrize("name", sorted(content_rules()))
def test_matcher_agrees_with_search(name: str) -> None:
    rnd = random.Random(f"content-{name}")
    hits = misses = 0
    for pattern in content_rules()[name]:
        matcher = ContentMatcher(pattern)
        parsed = P.parse(pattern.pattern, pattern.flags).data
        for _ in range(400):
            parts = [_noise(rnd, rnd.randint(0, 40))]
            if rnd.random() < 0.6:
                sample = _sample(parsed, rnd)
                if rnd.random() < 0.3 and len(sample) > 2:  # a broken match
                    cut = rnd.randrange(1, len(sample))
                    sample = sample[:cut] + _noise(rnd, 2) + sample[cut:]
                parts.append(sample)
            parts.append(_noise(rnd, rnd.randint(0, 40)))
            text = "".join(parts)
            want = pattern.search(text) is not None
            assert matcher.found(text, fold_case(text)) is want, (pattern.pattern, text)
            hits += want
            misses += not want
    assert hits > 50 and misses > 50  # both outcomes were exercised


def test_pattern_without_leading_literal_falls_back_to_search() -> None:
    m = ContentMatcher(re.compile(r"\d+\s*(usd|eur)", re.I))
    assert m.anchors is None
    assert m.found("pay 100 EUR now", fold_case("pay 100 EUR now"))
    assert not m.found("pay now", fold_case("pay now"))


def test_match_starting_with_kelvin_sign_is_found() -> None:
    m = ContentMatcher(re.compile(r"(kind|sort)\s+regards", re.I))
    text = "with \u212aIND regards"
    assert re.search(m.pattern, text)
    assert m.found(text, fold_case(text))
