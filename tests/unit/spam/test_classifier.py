"""The content model: learning, the closed label set, serialization, determinism."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from rongmail.services.spam.classifier import MIN_TRAINED, ContentLabel, ContentModel, label
from rongmail.services.spam.features import extract, text_ngrams

from .helpers import msg

SPAM_ZH = "本公司常年代开各类发票，税点优惠，验证后付款。详情请加微信 fapiao888 咨询。"
HAM_ZH = "各位同事：周五下午三点在三楼会议室讨论第四季度预算，请提前准备材料。"
SPAM_EN = "Cheap meds online!!! Click here to buy now, limited offer, unsubscribe anytime."
HAM_EN = "Hi team, the build is green again; I merged the fix for the IMAP IDLE timeout."


def _train(model: ContentModel, rounds: int = MIN_TRAINED) -> None:
    for i in range(rounds):
        for body, spam in ((SPAM_ZH, True), (HAM_ZH, False), (SPAM_EN, True), (HAM_EN, False)):
            m = msg(body=f"{body}\n#{i}", subject="hello")
            model.learn(model.features(m), spam)


def test_learns_to_separate_chinese_and_english() -> None:
    model = ContentModel(bits=18)
    assert not model.trained
    _train(model)
    assert model.trained
    spam = model.score(model.features(msg(body=SPAM_ZH.replace("888", "999"))))
    ham = model.score(model.features(msg(body=HAM_ZH.replace("三点", "四点"))))
    assert spam > 0.8 > 0.2 > ham
    assert model.score(model.features(msg(body=SPAM_EN))) > model.score(
        model.features(msg(body=HAM_EN))
    )


def test_round_trip_bytes() -> None:
    model = ContentModel(bits=16, rate=0.01, eps=0.5)
    _train(model, 3)
    data = model.to_bytes()
    again = ContentModel.from_bytes(data)
    assert (again.bits, again.rate, again.eps) == (16, 0.01, 0.5)
    assert (again.n_spam, again.n_ham) == (model.n_spam, model.n_ham)
    assert np.array_equal(again.weights, model.weights)
    assert np.array_equal(again.sq_grad, model.sq_grad)
    assert again.to_bytes() == data
    fresh = ContentModel(bits=16).to_bytes()
    assert len(fresh) < 4096  # zeros compress


@pytest.mark.parametrize(
    "data", [b"", b"RMLR", b"XXXX" + bytes(40), ContentModel(16).to_bytes()[:-5]]
)
def test_from_bytes_rejects_garbage(data: bytes) -> None:
    with pytest.raises(Exception):  # noqa: B017 - ValueError or zlib.error
        ContentModel.from_bytes(data)


def test_parameters_are_validated() -> None:
    with pytest.raises(ValueError):
        ContentModel(bits=40)
    with pytest.raises(ValueError):
        ContentModel(rate=0.0)


@pytest.mark.parametrize(
    ("p", "want"),
    [
        (0.01, ContentLabel.HAM),
        (0.5, ContentLabel.UNSURE),
        (0.7, ContentLabel.SPAM_LOW),
        (0.95, ContentLabel.SPAM_MID),
        (0.999, ContentLabel.SPAM_HIGH),
        (math.nan, ContentLabel.UNSURE),
        (7.0, ContentLabel.UNSURE),
    ],
)
def test_label_is_a_closed_set(p: float, want: ContentLabel) -> None:
    assert label(p) is want
    assert label(p, trained=False) is ContentLabel.UNTRAINED


def test_features_are_sorted_unique_and_in_range() -> None:
    f = extract(msg(body=SPAM_ZH), bits=18)
    assert f.dtype == np.uint32
    assert np.all(np.diff(f.astype(np.int64)) > 0)
    assert int(f.max()) < 1 << 18


def test_chinese_needs_no_segmentation() -> None:
    # Unigrams and bigrams of Chinese characters are features: the word 发票 is one of them.
    a = set(text_ngrams("代开发票", 1, 20).tolist())
    b = set(text_ngrams("发票", 1, 20).tolist())
    assert b <= a


def test_hashing_is_stable_across_processes() -> None:
    code = (
        "from rongmail.services.spam.features import text_ngrams;"
        "print(text_ngrams('发票 invoice', 7, 20)[:6].tolist())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2)
    }
    assert len(outs) == 1
