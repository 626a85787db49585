"""Spot-then-recognise score (STRS), as the MEGC 2023-2025 challenges score it.

Spotting is scored first (a predicted interval is a true positive when it matches a
ground-truth interval, IoU >= 0.5, one to one: the spotting evaluation does that matching).
Recognition is then scored on the correctly spotted intervals only: the truth's class of
each matched interval against the class predicted for it. STRS is the product

    STRS = spotting F1 x recognition F1

where recognition F1 is the harmonic mean of the per-class precision and recall averaged over
the classes that occur among the matched intervals (in truth or prediction), an undefined
precision or recall counting as 0, as in the challenges' baseline code (MEAN). The mean of
the per-class F1 (UF1, the project's recognition metric) is reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from mesti.errors import MestiError


@dataclass(frozen=True)
class STRSResult:
    """Spotting counts and F1, recognition on the matched intervals, and their product."""

    spot_tp: int
    spot_fp: int
    spot_fn: int
    spot_precision: float
    spot_recall: float
    spot_f1: float
    recognition_precision: float
    recognition_recall: float
    recognition_f1: float
    recognition_uf1: float
    strs: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _div(num: float, den: float) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return _div(2 * p * r, p + r)


def spotting_scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of pooled spotting counts (0 where undefined)."""
    if min(tp, fp, fn) < 0:
        raise MestiError("spotting", f"counts must not be negative (TP {tp}, FP {fp}, FN {fn})")
    p, r = _div(tp, tp + fp), _div(tp, tp + fn)
    return p, r, _f1(p, r)


def recognition_scores(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, float, float]:
    """Macro precision, macro recall, their harmonic mean (the challenges' F1) and UF1."""
    if len(truth) != len(predicted):
        raise MestiError("recognition", f"{len(truth)} true labels for {len(predicted)} predictions")
    classes = sorted(set(truth) | set(predicted))
    if not classes:
        return 0.0, 0.0, 0.0, 0.0
    precisions, recalls, f1s = [], [], []
    for c in classes:
        tp = sum(t == c and p == c for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != c and p == c for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == c and p != c for t, p in zip(truth, predicted, strict=True))
        precisions.append(_div(tp, tp + fp))
        recalls.append(_div(tp, tp + fn))
        f1s.append(_div(2 * tp, 2 * tp + fp + fn))
    p, r = sum(precisions) / len(classes), sum(recalls) / len(classes)
    return p, r, _f1(p, r), sum(f1s) / len(classes)


def strs(tp: int, fp: int, fn: int, truth: Sequence[str], predicted: Sequence[str]) -> STRSResult:
    """STRS from the spotting counts and, for each of the ``tp`` matched intervals, the true
    class and the predicted class."""
    if len(truth) != tp:
        raise MestiError("recognition", f"{len(truth)} labelled intervals given for {tp} correctly spotted ones; "
                                        "recognition is scored on exactly the matched intervals")
    sp, sr, sf = spotting_scores(tp, fp, fn)
    rp, rr, rf, uf1 = recognition_scores(truth, predicted)
    return STRSResult(tp, fp, fn, sp, sr, sf, rp, rr, rf, uf1, sf * rf)
