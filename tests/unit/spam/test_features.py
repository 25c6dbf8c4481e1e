"""Feature extraction of the content model: header tokens, OSB bigrams, n-gram scripts, versions."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from rongmail.services.spam import features as F
from rongmail.services.spam.classifier import ContentModel, StaleModel

from .helpers import msg

BITS = 20


def _set(a: np.ndarray) -> set[int]:
    return set(a.tolist())


def test_header_tokens_are_prefixed_by_field() -> None:
    toks = F.header_tokens([("From", "Li Lei <lilei@example.com>"), ("X-Mailer", "Foxmail 7.2")])
    assert "from:lilei@example.com" in toks
    assert "x-mailer:foxmail" in toks and "x-mailer:7.2" in toks
    assert "from:foxmail" not in toks


def test_same_word_in_two_fields_gives_two_features() -> None:
    a = F.token_hashes(F.header_tokens([("Subject", "invoice")]), 1)
    b = F.token_hashes(F.header_tokens([("From", "invoice")]), 1)
    assert a.tolist() != b.tolist()


def test_header_tokens_cap_fields() -> None:
    many = [(f"X-H{i}", f"v{i}") for i in range(F.MAX_HEADERS + 10)]
    toks = F.header_tokens(many)
    assert f"x-h{F.MAX_HEADERS - 1}:v{F.MAX_HEADERS - 1}" in toks
    assert f"x-h{F.MAX_HEADERS}:v{F.MAX_HEADERS}" not in toks


def test_words_lower_case_and_keep_money_and_shouting() -> None:
    # single letters are dropped, digits are words (a decimal point splits a number)
    want = ["free", "money", "$$$", "now", "!!!", "100", "5"]
    assert F.words("FREE money $$$ now!!! 100.5 x") == want


def test_osb_pairs_depend_on_order_and_distance() -> None:
    h = F.token_hashes(["cheap", "meds", "online"], 7)
    feats = F.osb_hashes(h, 4, BITS)
    # 3 unigrams + 2 pairs at distance 1 + 1 pair at distance 2
    assert feats.size == 6 and len(_set(feats)) == 6
    rev = F.osb_hashes(F.token_hashes(["meds", "cheap", "online"], 7), 4, BITS)
    assert _set(feats[:3]) == _set(rev[:3])  # the same unigrams...
    assert _set(feats[3:]).isdisjoint(_set(rev[3:]))  # ...but other pairs
    gap = F.osb_hashes(F.token_hashes(["cheap", "x", "meds"], 7), 4, BITS)
    # "cheap meds" at distance 1 is not "cheap _ meds" at distance 2
    assert feats[3] not in _set(gap)


def test_window_bounds_the_pairs() -> None:
    h = F.token_hashes([f"w{i}" for i in range(10)], 7)
    assert F.osb_hashes(h, 2, BITS).size == 10 + 9 + 8
    assert F.osb_hashes(h[:1], 4, BITS).size == 1
    assert F.osb_hashes(h[:0], 4, BITS).size == 0


def test_short_ngrams_only_for_cjk() -> None:
    # Latin: only 3- and 4-grams ("spam" -> "spa", "pam", "spam")
    assert F.text_ngrams("spam", 1, BITS).size == 3
    assert F.text_ngrams("ab", 1, BITS).size == 0
    # CJK: 4 unigrams + 3 bigrams + 2 trigrams + 1 four-gram
    assert F.text_ngrams("代开发票", 1, BITS).size == 10
    # mixed: no 1/2-grams that touch a Latin character
    mixed = _set(F.text_ngrams("a发票", 1, BITS))
    assert _set(F.text_ngrams("发票", 1, BITS)) <= mixed
    assert F.text_ngrams("a发票", 1, BITS).size == 2 + 1 + 1  # 发 票, 发票, a发票


def test_extract_uses_headers_body_words_and_structure() -> None:
    base = msg(body="Cheap meds online today", subject="offer")
    f = _set(F.extract(base, BITS))
    assert f != _set(F.extract(msg(body="Cheap pills online today", subject="offer"), BITS))
    # the field-prefixed header token
    mailer = msg(body="Cheap meds online today", subject="offer", headers={"X-Mailer": "Zmailer"})
    tok = F.token_hashes(["x-mailer:zmailer"], F._ZONE_HTOKEN)
    tok_idx = int(F._fold(tok, F._ZONE_HTOKEN, BITS)[0])
    assert tok_idx in _set(F.extract(mailer, BITS)) and tok_idx not in f
    # the OSB pair "cheap meds" (distance 1), absent when the words are swapped
    pair_idx = int(F.osb_hashes(F.token_hashes(["cheap", "meds"], F._ZONE_WORD), 4, BITS)[2])
    assert pair_idx in f
    swapped = msg(body="Meds cheap online today", subject="offer")
    assert pair_idx not in _set(F.extract(swapped, BITS))
    again = F.extract(msg(body="Cheap meds online today", subject="offer"), BITS)
    assert _set(again) == f  # deterministic


def test_stale_models_are_refused_for_a_fresh_start() -> None:
    fresh = ContentModel(bits=16)
    data = fresh.to_bytes()
    assert ContentModel.from_bytes(data).bits == 16
    # format 1: the same header layout with zero padding where the feature set now is
    v1 = bytearray(data)
    v1[4], v1[6] = 1, 0
    with pytest.raises(StaleModel):
        ContentModel.from_bytes(bytes(v1))
    old_set = bytearray(data)
    old_set[6] = 1  # feature set 1 indexed other features
    assert 1 not in F.COMPATIBLE_FEATURE_SETS
    with pytest.raises(StaleModel):
        ContentModel.from_bytes(bytes(old_set))
    unknown = bytearray(data)
    unknown[6] = F.FEATURE_SET + 1
    with pytest.raises(StaleModel):
        ContentModel.from_bytes(bytes(unknown))
    future = bytearray(data)
    future[4] = 99
    with pytest.raises(ValueError):
        ContentModel.from_bytes(bytes(future))
    assert struct.unpack_from("<4sBBB", data) == (b"RMLR", 2, 16, F.FEATURE_SET)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 5000])
def test_sorted_unique_equals_numpy_unique(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.integers(0, 1 << 12, n).astype(np.uint32)  # many repeats
    got = F.sorted_unique(a)
    assert got.dtype == np.uint32
    assert np.array_equal(got, np.unique(a))


def test_each_header_token_counts_as_several_features() -> None:
    plain = msg(body="Cheap meds online today", subject="offer")
    mailer = msg(body="Cheap meds online today", subject="offer", headers={"X-Mailer": "Zmailer"})
    copies = _set(F.header_token_features(["x-mailer:zmailer"], BITS))
    assert len(copies) == F.HEADER_TOKEN_COPIES > 1
    assert copies <= _set(F.extract(mailer, BITS))
    assert copies.isdisjoint(_set(F.extract(plain, BITS)))
    # a model that has learned the token once moves by the copies' weights, not one weight's
    model = ContentModel(bits=BITS)
    idx = np.array(sorted(copies), dtype=np.uint32)
    model.learn(idx, True)
    one = float(model.weights[idx[0]])
    assert one > 0 and model.logit(idx) == pytest.approx(F.HEADER_TOKEN_COPIES * one, rel=1e-5)


def test_subject_has_zones_of_its_own() -> None:
    with_subject = msg(body="see below", subject="Lowest mortgage rates")
    in_body = msg(body="Lowest mortgage rates\nsee below", subject="")
    feats = _set(F.subject_features("Lowest mortgage rates", BITS))
    assert feats and feats <= _set(F.extract(with_subject, BITS))
    # the same words in the body are other features
    assert feats.isdisjoint(_set(F.extract(in_body, BITS)))
    # case-folded subject words: the shouting variant shares the word features
    loud = _set(F.subject_features("LOWEST MORTGAGE RATES", BITS))
    words = _set(F._fold(F.token_hashes(["lowest", "mortgage", "rates"], F._ZONE_SUBJECT_WORD),
                         F._ZONE_SUBJECT_WORD, BITS))  # fmt: skip
    assert words <= feats and words <= loud
    # only the first SUBJECT_CHARS characters count
    zebra = _set(F._fold(F.token_hashes(["zebra"], F._ZONE_SUBJECT_WORD), F._ZONE_SUBJECT_WORD,
                         BITS))  # fmt: skip
    assert zebra <= _set(F.subject_features("zebra", BITS))
    assert zebra.isdisjoint(_set(F.subject_features("filler " * 50 + "zebra", BITS)))


def test_a_feature_set_2_model_is_kept_and_saved_as_the_current_set() -> None:
    # set 3 only adds features: a tenant's set-2 weights stay valid (no reset on upgrade)
    assert F.COMPATIBLE_FEATURE_SETS == {2, F.FEATURE_SET}
    old = ContentModel(bits=16)
    feats = F.extract(msg(body="Cheap meds online today", subject="offer"), 16)
    old.learn(feats, True)
    data = bytearray(old.to_bytes())
    data[6] = 2
    kept = ContentModel.from_bytes(bytes(data))
    assert np.array_equal(kept.weights, old.weights) and kept.n_spam == 1
    assert kept.to_bytes()[6] == F.FEATURE_SET
