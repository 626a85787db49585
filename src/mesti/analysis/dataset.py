"""Spot-then-recognise over a long-video dataset (``mesti spot-eval --recognise MODEL``).

The spotting evaluation spots every video; this classifies each spotted interval with the
trained model (frames read from the stream, as :func:`~mesti.analysis.analyze` does) and
scores STRS with counts and matched intervals pooled over the whole dataset.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mesti.analysis.run import classify_intervals
from mesti.analysis.truth import class_overlap_note, strs_from, truth_class
from mesti.datasets.long import LongVideo
from mesti.reports.analysis import interval_rows
from mesti.spotting.evaluate import match_by_type
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks

PROTOCOL = ("spot-then-recognise (MEGC 2023-2025): spotting IoU >= 0.5 one-to-one within each type, counts pooled "
            "over the dataset; recognition F1 on the correctly spotted intervals; STRS = spotting F1 x recognition F1")


def recognise_spotted(model: Any, videos: list[LongVideo], results: list[SpotResult],
                      hooks: Hooks | None = None) -> tuple[dict[str, Any], str]:
    """Classify every spotted interval; the pooled STRS scores and ``recognition.csv`` (one row per
    spotted interval: video, frames, seconds, type, spot score, predicted class, probabilities,
    and the true class when the interval was correctly spotted).

    A video none of whose intervals can be classified (no face on any onset frame) is skipped
    with a note and the evaluation goes on; its intervals stay unclassified, so its correctly
    spotted ones count as misrecognised (never dropped, which would raise the score). The
    returned scores carry ``predicted``: per video, each spotted interval's class (``None``
    where unclassified), for the MEGC per-video files.
    """
    matched: list[tuple[str, str]] = []
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    predicted: dict[str, list[str | None]] = {}
    n_spotted = n_truth = 0
    for v, r in zip(videos, results, strict=True):
        intervals, _, _, more = classify_intervals(model, v.path, v.fps, list(r.intervals), hooks,
                                                   skip_unclassifiable=True)
        if r.intervals and len(more) == len(r.intervals):
            notes.append(f"{v.video_id}: none of its {len(r.intervals)} spotted interval(s) could be classified "
                         f"({more[0]}); video skipped, its correctly spotted intervals count as misrecognised")
        else:
            notes += [f"{v.video_id}: {n}" for n in more]
        truth_of = {i: truth_class(v.intervals[j].label, model.classes) for i, j in match_by_type(r.intervals, v.intervals)}
        matched += [(truth_of[i], intervals[i].label or "") for i in sorted(truth_of)]
        n_spotted += len(r.intervals)
        n_truth += len(v.intervals)
        predicted[v.video_id] = [iv.label for iv in intervals]
        for i, row in enumerate(interval_rows(intervals, v.fps, model.classes)):
            rows.append({"video": v.video_id, **row, "truth": truth_of.get(i, "")})
    overlap = class_overlap_note([iv for v in videos for iv in v.intervals], list(model.classes))
    if overlap is not None:
        notes.append(overlap)
    scores = strs_from(n_spotted, n_truth, matched)
    columns = ["video", "onset", "apex", "offset", "onset_s", "apex_s", "offset_s", "type", "score", "prediction",
               *(f"prob_{c}" for c in model.classes), "truth"]
    return {"protocol": PROTOCOL, "model": model.name, "classes": list(model.classes), "scores": scores.to_dict(),
            "notes": notes, "predicted": predicted}, \
        pd.DataFrame(rows, columns=columns).to_csv(index=False)
