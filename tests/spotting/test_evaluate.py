"""The MEGC spotting evaluation against cases worked out by hand."""

from __future__ import annotations

import pytest

from mesti.clips.intervals import Interval, kind_for
from mesti.errors import MestiError
from mesti.spotting.evaluate import evaluate_spotting, iou, match


def iv(a: int, b: int, kind: str = "micro") -> Interval:
    return Interval(a, (a + b) // 2, b, kind)


def test_iou_on_inclusive_frames() -> None:
    assert iou(iv(0, 9), iv(5, 14)) == pytest.approx(5 / 15)  # 5 shared frames of 15
    assert iou(iv(0, 9), iv(0, 9)) == 1.0
    assert iou(iv(0, 9), iv(9, 18)) == pytest.approx(1 / 19)  # touching ends share a frame
    assert iou(iv(0, 9), iv(10, 19)) == 0.0


def test_prediction_overlapping_two_truths_matches_at_most_one() -> None:
    truth = [iv(0, 9), iv(12, 21)]
    # 3..18 covers 7 frames of each truth: IoU 7/19 = 0.37 with both, below 0.5: a false positive.
    assert match([iv(3, 18)], truth) == []
    # 0..13: IoU 10/14 with the first, 2/22 with the second: one true positive.
    assert match([iv(0, 13)], truth) == [(0, 0)]
    ev = evaluate_spotting({"v": [iv(3, 18)]}, {"v": truth})
    assert (ev.pooled("micro").tp, ev.pooled("micro").fp, ev.pooled("micro").fn) == (0, 1, 2)


def test_one_to_one_and_best_pair_first() -> None:
    truth = [iv(0, 9)]
    preds = [iv(1, 9), iv(0, 9)]  # both above 0.5; the exact one takes the truth
    assert match(preds, truth) == [(1, 0)]
    c = evaluate_spotting({"v": preds}, {"v": truth}).pooled("micro")
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)


def test_video_without_expressions_counts_its_false_positives() -> None:
    truth = {"a": [iv(10, 19), iv(100, 179, "macro")], "empty": []}
    preds = {"a": [iv(10, 18), iv(100, 170, "macro")], "empty": [iv(5, 12), iv(40, 120, "macro")]}
    ev = evaluate_spotting(preds, truth)
    micro, macro, overall = ev.pooled("micro"), ev.pooled("macro"), ev.pooled("overall")
    assert (micro.tp, micro.fp, micro.fn) == (1, 1, 0)
    assert (macro.tp, macro.fp, macro.fn) == (1, 1, 0)
    assert (overall.tp, overall.fp, overall.fn) == (2, 2, 0)
    assert overall.precision == 0.5 and overall.recall == 1.0
    assert overall.f1 == pytest.approx(2 * 2 / (2 * 2 + 2 + 0))
    # Skipping the empty video (a peer's evaluation) would report precision 1.0 instead.
    rows = {(r["video"], r["type"]): (r["tp"], r["fp"], r["fn"]) for r in ev.rows()}
    assert rows[("empty", "micro")] == (0, 1, 0) and rows[("empty", "macro")] == (0, 1, 0)


def test_type_must_agree_and_missing_predictions_are_misses() -> None:
    ev = evaluate_spotting({"a": [iv(0, 9, "macro")]}, {"a": [iv(0, 9, "micro")], "b": [iv(3, 30, "macro")]})
    t = ev.table()
    assert (t["micro"]["tp"], t["micro"]["fn"]) == (0, 1)
    assert (t["macro"]["tp"], t["macro"]["fp"], t["macro"]["fn"]) == (0, 1, 1)
    assert t["overall"]["f1"] == 0.0


def test_predictions_for_an_unknown_video_are_refused() -> None:
    with pytest.raises(MestiError, match="not in the ground truth"):
        evaluate_spotting({"ghost": [iv(0, 5)]}, {"a": []})


def test_micro_means_at_most_half_a_second() -> None:
    assert kind_for(100, 200.0) == "micro" and kind_for(101, 200.0) == "macro"
    assert kind_for(15, 30.0) == "micro" and kind_for(16, 30.0) == "macro"


def test_labelled_blinks_are_never_truth_and_false_positives_on_them_are_counted_apart() -> None:
    truth = {"v": [Interval(10, 12, 14, "micro")], "w": []}
    blinks = {"v": [Interval(30, 32, 34, "blink"), Interval(60, 62, 64, "blink")], "w": [Interval(5, 6, 8, "blink")]}
    predicted = {"v": [Interval(10, 12, 14, "micro"), Interval(30, 32, 34, "micro"), Interval(10, 11, 13, "blink")],
                 "w": [Interval(40, 41, 42, "macro")]}
    result = evaluate_spotting(predicted, truth, blinks=blinks)
    plain = evaluate_spotting(predicted, truth)
    assert result.table() == plain.table()  # blinks change no count
    assert result.pooled("overall") == plain.pooled("overall")
    assert (result.pooled("micro").tp, result.pooled("micro").fp, result.pooled("macro").fp) == (1, 1, 1)
    # The micro false positive on v's first blink is a blink taken for an expression; the TP is not,
    # nor is a prediction labelled as a blink, nor w's macro far from w's blink.
    assert result.blinks == {"v": (2, 1), "w": (1, 0)}
    assert result.blink_table() == {"labelled": 3, "spotted_as_expression": 1, "share": 0.3333}
    assert plain.blink_table() is None
