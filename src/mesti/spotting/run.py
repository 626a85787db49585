"""Spot every video of a long-video dataset and evaluate, the MEGC way (``mesti spot-eval``).

Training-free methods run with their fixed settings on every video; ``learned`` runs
leave-one-subject-out (each subject spotted by a model that never saw it). Predictions (one
CSV, and one MEGC file per video in ``megc/``), per-video TP/FP/FN, a plot per video and a
summary naming the protocol are written together, atomically. ``--predictions`` reads
either form back; an interval past its video's end is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mesti.clips.intervals import Interval
from mesti.datasets.long import LongVideo
from mesti.errors import MestiError
from mesti.spotting.evaluate import IOU_THRESHOLD, evaluate_spotting
from mesti.spotting.output import (
    FRAME_CONVENTION,
    MEGC_FOLDER,
    intervals_csv,
    megc_csv,
    megc_name,
    read_predictions,
    score_png,
)
from mesti.spotting.registry import create_spotter, spot_stream, too_short
from mesti.spotting.result import SpotResult
from mesti.utils.atomic import atomic_dir
from mesti.utils.hooks import Hooks


@dataclass
class EvalReport:
    protocol: str
    table: dict[str, dict[str, float]]
    results: list[SpotResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    folds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    recognition: dict[str, Any] | None = None
    blinks: dict[str, float] | None = None  # labelled blinks and how many were spotted as expressions


#: Recognition on top of spotting (from the analysis layer): given the videos and their spotting
#: results, the scores to add to ``summary.json`` (with ``predicted``: per video, the class of
#: each spotted interval, taken out for the MEGC files) and the text of ``recognition.csv``.
RecogniseFn = Callable[[list[LongVideo], list[SpotResult]], tuple[dict[str, Any], str]]


class _AcrossVideos(Hooks):
    """The ``spot`` frames of one video counted as frames of all of them (``done``: the
    frames of the videos before)."""

    def __init__(self, hooks: Hooks | None, total: int) -> None:
        self.hooks, self.total, self.done = hooks, total, 0

    def stage_advanced(self, stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        if self.hooks is not None:
            self.hooks.stage_advanced(stage, self.done + done, self.total, description)


def spot_videos(
    videos: list[LongVideo], method: str, hooks: Hooks | None = None
) -> tuple[list[SpotResult], dict[str, tuple[str, ...]], list[Any]]:
    """Spot every video with ``method``; ``learned`` leave-one-subject-out.

    Returns the results, the subjects each fold's model saw (``learned``) and the measured
    region motions (``learned``; empty otherwise). Each video is opened through
    :meth:`LongVideo.open` (its files checked to stay in the dataset root); a result notes a
    video that decoded short (truncated) or is too short for the method.
    """
    step = _AcrossVideos(hooks, sum(v.frames for v in videos))

    spotter = create_spotter(method)
    results: list[SpotResult] = []
    motions: list[Any] = []
    notes: list[list[str]] = []
    folds: dict[str, tuple[str, ...]] = {}
    for v in videos:
        stream = v.open()
        why = too_short(spotter, stream)
        if method == "learned":
            from mesti.spotting.motion import region_motion

            motions.append(region_motion(stream, hooks=step))
            truncated = stream.truncation()
            notes.append([truncated] if truncated is not None else [])
        else:
            results.append(spot_stream(spotter, stream, hooks=step))
            notes.append([])
        if why is not None:
            notes[-1].append(f"{v.video_id}: {why}")
        step.done += v.frames
    if method == "learned":
        from mesti.spotting.learned import loso_spot

        results, folds = loso_spot(motions, [list(v.intervals) for v in videos], [v.subject for v in videos])
    for r, more in zip(results, notes, strict=True):
        r.notes += more
    for v, r in zip(videos, results, strict=True):
        lost = [iv for iv in v.intervals if iv.offset >= r.frames]
        if lost and r.frames < v.frames:
            r.notes.append(f"{v.video_id}: {len(lost)} true interval(s) lie past frame {r.frames - 1}, the last that "
                           f"decodes of the {v.frames} expected ({', '.join(f'{iv.onset}-{iv.offset}' for iv in lost)}); "
                           "they count as missed")
    return results, folds, motions


def read_predicted(path: Path, videos: list[LongVideo]) -> tuple[dict[str, list[Interval]], list[str]]:
    """Predicted intervals per video from ``path`` (:func:`read_predictions`), each checked to
    fit its video: an interval past the last frame is refused with its line. Returns the
    intervals and warnings (a video of the dataset with no file in a MEGC folder)."""
    by_id = {v.video_id: v for v in videos}
    rows = read_predictions(path)
    for video, items in rows.items():
        v = by_id.get(video)
        if v is None:
            where = items[0][1] if items else f"{path.name}: {video}"
            raise MestiError(where, f"predictions for video {video!r}, which is not in the dataset "
                             f"({len(videos)} videos: {', '.join(sorted(by_id)[:5])}{', ...' if len(by_id) > 5 else ''})")
        for iv, where in items:
            if iv.offset >= v.frames:
                raise MestiError(where, f"the interval {iv.onset}..{iv.offset} runs past the {v.frames} frames of "
                                 f"video {video} (0-based frames: the last is {v.frames - 1})")
    warnings = []
    if path.is_dir():
        warnings = [f"{v.video_id}: no predictions file {megc_name(v.video_id)} in {path}; counted as nothing spotted"
                    for v in videos if v.video_id not in rows]
    return {video: [iv for iv, _ in items] for video, items in rows.items()}, warnings


def evaluate_dataset(
    adapter: Any, out: Path, method: str | None = None, predictions: Path | None = None, hooks: Hooks | None = None,
    recognise: RecogniseFn | None = None,
) -> EvalReport:
    """Spot (or read predictions for) every video of ``adapter``, evaluate, write into ``out``;
    with ``recognise``, also classify the spotted intervals and score spot-then-recognise."""
    videos: list[LongVideo] = adapter.videos()
    if not videos:
        raise MestiError(adapter.sheet_path, "no video of the sheet could be matched (see the notes above)")
    missing = [f"{v.key}: {v.missing}; its {len(v.intervals)} expression(s) are not evaluated"
               for v in getattr(adapter, "missing_videos", [])]
    truth = {v.video_id: list(v.intervals) for v in videos}
    results: list[SpotResult] = []
    folds: dict[str, tuple[str, ...]] = {}
    motions: list[Any] = []
    warnings: list[str] = list(missing)
    if predictions is not None:
        predicted, more = read_predicted(predictions, videos)
        warnings += more
        name = f"predictions {predictions.name}"
    else:
        assert method is not None
        results, folds, motions = spot_videos(videos, method, hooks)
        predicted = {v.video_id: r.intervals for v, r in zip(videos, results, strict=True)}
        name = method
    evaluation = evaluate_spotting(predicted, truth, blinks={v.video_id: list(v.blinks) for v in videos if v.blinks})
    proto = "leave-one-subject-out, " if method == "learned" else ("fixed settings, " if method else "")
    protocol = (f"{adapter.name}: {name}, {proto}IoU >= {IOU_THRESHOLD} one-to-one, counts pooled over "
                f"{len(videos)} videos of {len({v.subject for v in videos})} subjects")
    report = EvalReport(protocol, evaluation.table(), results, folds=folds, blinks=evaluation.blink_table())
    recognition_csv = ""
    classes: dict[str, list[str | None]] = {}
    if recognise is not None:
        if not results:
            raise MestiError("--recognise", "recognition needs spotted intervals: give --method, not --predictions")
        report.recognition, recognition_csv = recognise(videos, results)
        classes = report.recognition.pop("predicted", {})
    report.warnings = warnings
    for r in results:
        report.warnings += r.warnings()
    by_id = {v.video_id: v for v in videos}
    with atomic_dir(out, "spotting evaluation") as tmp:
        summary = {"protocol": protocol, "dataset": adapter.name, "method": method, "scores": report.table,
                   "settings": results[0].settings if results else {}, "issues": list(adapter.issues),
                   "warnings": report.warnings, "folds": {k: list(v) for k, v in folds.items()},
                   "frame_convention": FRAME_CONVENTION}
        if method == "learned":
            summary["settings"] = {k: v for k, v in summary["settings"].items() if k != "trained_on"}
        if report.blinks is not None:
            summary["blinks"] = report.blinks
        if report.recognition is not None:
            summary["recognition"] = report.recognition
            (tmp / "recognition.csv").write_text(recognition_csv, encoding="utf-8")
        (tmp / "summary.json").write_text(_json(summary), encoding="utf-8")
        buf = io.StringIO()
        w = csv.DictWriter(buf, ["video", "type", "tp", "fp", "fn"], lineterminator="\n")
        w.writeheader()
        w.writerows(evaluation.rows())
        (tmp / "per_video.csv").write_text(buf.getvalue(), encoding="utf-8")
        if results:
            # Named by the dataset's video id (a CAS(ME)^3 frame folder is always called color/).
            named = [replace(r, video=v.video_id) for v, r in zip(videos, results, strict=True)]
            (tmp / "predictions.csv").write_text(intervals_csv(named), encoding="utf-8")
            (tmp / "plots").mkdir()
            (tmp / MEGC_FOLDER).mkdir()
            for v, r in zip(videos, results, strict=True):
                (tmp / "plots" / f"{v.video_id}.png").write_bytes(score_png(r, by_id[v.video_id].intervals))
                (tmp / MEGC_FOLDER / megc_name(v.video_id)).write_text(megc_csv(r.intervals, classes.get(v.video_id)),
                                                                     encoding="utf-8")
        if method == "learned":
            from mesti.spotting.learned import fit

            # What `mesti spot --method learned` uses: trained on every subject of this set.
            fit(motions, [list(v.intervals) for v in videos], [v.subject for v in videos]).save(tmp / "learned_model.pt")
    return report


def _json(obj: object) -> str:
    import json

    return json.dumps(obj, indent=1, sort_keys=True, default=lambda o: list(o) if isinstance(o, tuple) else str(o)) + "\n"


__all__ = ["EvalReport", "evaluate_dataset", "read_predicted", "spot_videos"]
