"""``bench/spam_eval.py --diagnose``: the loss breakdown at 0.1 % ham lost, without message text."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from spam_eval import caught_at_fpr, diagnose  # noqa: E402


def _stream() -> tuple[list[float], list[bool], list[str]]:
    # 2,000 ham (so 0.1 % is 2 hams: the threshold is the 3rd highest ham score) and 4 spam.
    scores = [-5.0] * 2000 + [9.0, 8.0, 3.0, 0.5]  # a tie with the threshold is a miss
    labels = [False] * 2000 + [True] * 4
    senders = ["list.example"] * 2000 + ["a.example", "b.example", "c.example", ""]
    # The three spammiest hams: position 10 (a first-contact domain), 1500 (a known list), 20.
    scores[10], senders[10] = 6.0, "new-sender.example"
    scores[1500] = 5.0
    scores[20], senders[20] = 3.0, "other.example"
    return scores, labels, senders


def test_threshold_hams_positions_and_first_contact() -> None:
    scores, labels, senders = _stream()
    out = diagnose(scores, labels, senders, top=3)
    assert out[0] == "threshold at 0.1% ham lost: score 3.000 (ham #3 of 2000 by score)"
    assert out[1] == "  ham #1: position 10, score 6.000, 0 earlier from its domain"
    assert out[2] == "  ham #2: position 1500, score 5.000, 1498 earlier from its domain"
    assert out[3] == "  ham #3: position 20, score 3.000, 0 earlier from its domain"
    assert out[4] == "  2 of the top 3 hams are the first mail from their domain"


def test_recall_line_and_position_buckets() -> None:
    scores, labels, senders = _stream()
    out = diagnose(scores, labels, senders, top=3)
    # Two of the four spam score above 3.0; at 2 % lost (40 hams) the threshold is -5.0.
    assert caught_at_fpr(scores, labels) == 0.5
    assert out[5].startswith("spam caught at ham lost 0.1%: 50.00%  0.2%: ")
    assert out[5].endswith("2%: 100.00%")
    assert out[6].endswith("[1000,2000) 0/0  [2000,2004) 2/4")


def test_no_sender_text_is_printed_and_missing_from_is_counted_apart() -> None:
    scores, labels, senders = _stream()
    scores[2003], labels[2003] = 7.0, False  # the spam with no From becomes the top ham
    text = "\n".join(diagnose(scores, labels, senders, top=2))
    assert "example" not in text
    assert "ham #1: position 2003, score 7.000, no From domain" in text


def test_one_class_streams_are_reported_not_divided_by_zero() -> None:
    assert diagnose([1.0, 2.0], [True, True], ["a", "b"]) == ["diagnose: needs both ham and spam"]
