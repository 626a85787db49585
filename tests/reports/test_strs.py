"""STRS on hand-worked cases."""

from __future__ import annotations

import pytest

from mesti.errors import MestiError
from mesti.reports.strs import recognition_scores, spotting_scores, strs


def test_hand_worked_case() -> None:
    # Spotting: 4 matched, 2 false alarms, 2 missed -> precision = recall = 4/6, F1 = 2/3.
    # Recognition on the 4 matched intervals:
    #   truth      negative negative positive surprise
    #   predicted  negative positive  positive negative
    # negative: TP 1 FP 1 FN 1 -> P 1/2, R 1/2, F1 1/2
    # positive: TP 1 FP 1 FN 0 -> P 1/2, R 1,   F1 2/3
    # surprise: TP 0 FP 0 FN 1 -> P 0 (undefined), R 0, F1 0
    # macro P = 1/3, macro R = 1/2 -> F1 = 2 (1/3)(1/2) / (5/6) = 2/5; UF1 = (1/2 + 2/3) / 3 = 7/18
    # STRS = 2/3 x 2/5 = 4/15
    r = strs(4, 2, 2, ["negative", "negative", "positive", "surprise"], ["negative", "positive", "positive", "negative"])
    assert (r.spot_precision, r.spot_recall) == pytest.approx((2 / 3, 2 / 3))
    assert r.spot_f1 == pytest.approx(2 / 3)
    assert (r.recognition_precision, r.recognition_recall) == pytest.approx((1 / 3, 1 / 2))
    assert r.recognition_f1 == pytest.approx(2 / 5)
    assert r.recognition_uf1 == pytest.approx(7 / 18)
    assert r.strs == pytest.approx(4 / 15)
    assert r.to_dict()["strs"] == pytest.approx(4 / 15)


def test_perfect_and_empty_cases() -> None:
    assert strs(2, 0, 0, ["a", "b"], ["a", "b"]).strs == pytest.approx(1.0)
    nothing = strs(0, 3, 5, [], [])  # nothing spotted correctly: nothing to recognise
    assert nothing.spot_f1 == 0 and nothing.recognition_f1 == 0 and nothing.strs == 0
    assert spotting_scores(0, 0, 0) == (0.0, 0.0, 0.0)
    assert recognition_scores([], []) == (0.0, 0.0, 0.0, 0.0)


def test_labels_must_cover_exactly_the_matched_intervals() -> None:
    with pytest.raises(MestiError, match="2 labelled intervals given for 3"):
        strs(3, 0, 0, ["a", "b"], ["a", "b"])
    with pytest.raises(MestiError, match="2 true labels for 1 predictions"):
        recognition_scores(["a", "b"], ["a"])
    with pytest.raises(MestiError, match="negative"):
        strs(1, -1, 0, ["a"], ["a"])
