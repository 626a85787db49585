"""The MEGC spotting evaluation: IoU >= 0.5 on inclusive frame intervals, one to one, pooled.

A predicted interval is a true positive when its IoU with a ground-truth interval of the
same type is at least 0.5; each truth and each prediction is used at most once (pairs are
taken in order of decreasing IoU). Counts are pooled over the whole dataset before
precision, recall and F1 are computed, for micro, macro and overall (micro + macro counts).
Every video counts, including those without any expression: their predictions are false
positives (a peer's evaluation skips them and so undercounts false positives).

Labelled blinks (CAS(ME)^3's eye-blink sheet) are labelled negatives: they are never truth,
so never a true positive or a miss; a false positive that matches one (the same IoU rule) is
counted apart as a blink taken for an expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mesti.clips.intervals import KINDS, Interval
from mesti.errors import MestiError

IOU_THRESHOLD = 0.5


def iou(a: Interval, b: Interval) -> float:
    """Intersection over union of two inclusive frame intervals."""
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    return inter / (a.frames + b.frames - inter)


def match(predicted: Sequence[Interval], truth: Sequence[Interval], threshold: float = IOU_THRESHOLD) -> list[tuple[int, int]]:
    """One-to-one ``(prediction, truth)`` index pairs with IoU >= ``threshold``, best pairs first."""
    pairs = sorted(((iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)), reverse=True)
    used_p: set[int] = set()
    used_t: set[int] = set()
    out = []
    for value, i, j in pairs:
        if value < threshold:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            out.append((i, j))
    return sorted(out)


def match_by_type(predicted: Sequence[Interval], truth: Sequence[Interval]) -> list[tuple[int, int]]:
    """One-to-one ``(prediction, truth)`` index pairs, matched within each type (micro with
    micro, macro with macro): the true positives the evaluation counts."""
    out = []
    for kind in KINDS:
        pi = [i for i, x in enumerate(predicted) if x.kind == kind]
        ti = [j for j, x in enumerate(truth) if x.kind == kind]
        out += [(pi[a], ti[b]) for a, b in match([predicted[i] for i in pi], [truth[j] for j in ti])]
    return sorted(out)


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 0.0


@dataclass
class SpotEvaluation:
    """Pooled counts per type and overall, and each video's counts (``per_video[video][kind]``);
    ``blinks[video]`` = (labelled blinks, blinks a false positive matched) where blinks are labelled."""

    per_video: dict[str, dict[str, Counts]] = field(default_factory=dict)
    blinks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def blink_table(self) -> dict[str, float] | None:
        """``{labelled, spotted_as_expression, share}`` over every video with labelled blinks, or ``None``."""
        if not self.blinks:
            return None
        labelled = sum(n for n, _ in self.blinks.values())
        spotted = sum(k for _, k in self.blinks.values())
        return {"labelled": labelled, "spotted_as_expression": spotted,
                "share": round(spotted / labelled, 4) if labelled else 0.0}

    def pooled(self, kind: str) -> Counts:
        """Counts over every video for ``micro``, ``macro`` or ``overall``."""
        kinds = KINDS if kind == "overall" else (kind,)
        total = Counts()
        for counts in self.per_video.values():
            for k in kinds:
                total = total + counts[k]
        return total

    def table(self) -> dict[str, dict[str, float]]:
        """``{kind: {tp, fp, fn, precision, recall, f1}}`` for micro, macro and overall."""
        out = {}
        for kind in (*KINDS, "overall"):
            c = self.pooled(kind)
            out[kind] = {"tp": c.tp, "fp": c.fp, "fn": c.fn, "precision": round(c.precision, 4),
                         "recall": round(c.recall, 4), "f1": round(c.f1, 4)}
        return out

    def rows(self) -> list[dict[str, object]]:
        """One row per video and type, for the per-video CSV."""
        return [{"video": v, "type": k, "tp": c.tp, "fp": c.fp, "fn": c.fn}
                for v, counts in self.per_video.items() for k, c in counts.items()]


def blinks_taken(predicted: Sequence[Interval], truth: Sequence[Interval], blinks: Sequence[Interval]) -> int:
    """How many labelled ``blinks`` a false positive matches (IoU >= 0.5, one to one): the
    predictions of an expression type that match no truth, matched against the blinks."""
    preds = [p for p in predicted if p.kind in KINDS]
    hits = {i for i, _ in match_by_type(preds, truth)}
    return len(match([p for i, p in enumerate(preds) if i not in hits], blinks))


def evaluate_spotting(
    predicted: Mapping[str, Sequence[Interval]], truth: Mapping[str, Sequence[Interval]],
    blinks: Mapping[str, Sequence[Interval]] | None = None,
) -> SpotEvaluation:
    """Score predictions against ground truth, video by video, pooled (see the module docstring).

    ``truth`` must name every evaluated video (an empty list for one without expressions);
    a prediction for a video not in ``truth`` is refused rather than silently dropped.
    ``blinks`` (labelled blinks per video, where a release has them) changes no count: it
    adds how many of them false positives matched (:attr:`SpotEvaluation.blinks`).
    """
    unknown = sorted(set(predicted) - set(truth))
    if unknown:
        raise MestiError(unknown[0], f"predictions for a video that is not in the ground truth ({len(unknown)} such)")
    result = SpotEvaluation()
    for video, gt in truth.items():
        preds = predicted.get(video, [])
        per: dict[str, Counts] = {}
        pairs = match_by_type(preds, gt)
        for kind in KINDS:
            tp = sum(preds[i].kind == kind for i, _ in pairs)
            per[kind] = Counts(tp, sum(i.kind == kind for i in preds) - tp, sum(i.kind == kind for i in gt) - tp)
        result.per_video[video] = per
        if blinks and blinks.get(video):
            result.blinks[video] = (len(blinks[video]), blinks_taken(preds, gt, blinks[video]))
    return result


def quiet_false_positives(
    predicted: Mapping[str, Sequence[Interval]], truth: Mapping[str, Sequence[Interval]], frames: Mapping[str, int]
) -> tuple[int, int]:
    """False alarms where nothing happens: ``(predictions overlapping no truth interval at all,
    frames outside every truth interval)``, summed over the videos of ``frames``. Divided, they
    give the false positives per minute of expression-free video (head motion, blinks and
    talking are what is left there)."""
    count = free = 0
    for video, n in frames.items():
        gt = truth.get(video, [])
        covered = set()
        for t in gt:
            covered.update(range(max(t.onset, 0), min(t.offset, n - 1) + 1))
        free += n - len(covered)
        count += sum(not any(p.overlaps(t) for t in gt) for p in predicted.get(video, []))
    return count, free
