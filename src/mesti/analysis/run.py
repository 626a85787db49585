"""Analyse a video end to end: spot, read each interval's frames, classify, collect pictures.

Spotting streams the video once; a second pass reads only the frames of the spotted
intervals (:class:`~mesti.analysis.frames.IntervalFrames`), cut to the model's face crop as
they arrive; each interval becomes a :class:`~mesti.clips.Clip` with the spotted onset,
apex and offset, and the trained model's own pipeline equalises, encodes and classifies it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mesti.analysis.frames import IntervalFrames
from mesti.analysis.truth import truth_class
from mesti.clips.clip import Clip
from mesti.clips.intervals import Interval
from mesti.clips.stream import open_stream
from mesti.errors import MestiError
from mesti.reports.analysis import AnalysisSource, write_analysis
from mesti.reports.html import ReportInterval
from mesti.reports.strs import STRSResult
from mesti.spotting.output import FRAME_CONVENTION, MEGC_FOLDER, megc_csv, megc_name, video_key
from mesti.spotting.registry import create_spotter, spot_stream, too_short
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks
from mesti.utils.outputs import output_scope, prepare_new_dir

#: Apex frames in the report are scaled down to this height (a SAMM frame is 1088 px high).
APEX_HEIGHT = 240


@dataclass
class Analysis:
    """What :func:`analyze` found: intervals with classes and pictures, the spotting result,
    the time each stage took, and (with truth) the spot-then-recognise scores."""

    video: str
    fps: float
    method: str
    model: str
    modality: str
    classes: list[str]
    spot: SpotResult
    intervals: list[ReportInterval]
    timings: dict[str, float]
    frames_held: int = 0
    truth: list[Interval] | None = None
    scores: STRSResult | None = None
    matches: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The analysis as JSON-ready data (without pictures)."""
        out: dict[str, Any] = {"video": self.video, "fps": self.fps, "frames": self.spot.frames, "method": self.method,
                               "frame_convention": FRAME_CONVENTION,
                               "model": self.model, "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
                               "intervals": len(self.intervals)}
        if self.scores is not None:
            out["protocol"] = ("spot-then-recognise (MEGC 2023-2025): spotting IoU >= 0.5 one-to-one within each type; "
                               "recognition on the correctly spotted intervals; STRS = spotting F1 x recognition F1")
            out["scores"] = self.scores.to_dict()
            out["truth"] = [{"onset": t.onset, "apex": t.apex, "offset": t.offset, "type": t.kind, "label": t.label,
                             "class": truth_class(t.label, self.classes),
                             "spotted_as": next((i + 1 for i, j in self.matches if j == n), None)}
                            for n, t in enumerate(self.truth or [])]
        return out

    def write(self, out: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """``intervals.csv``, ``intervals.json``, ``timeline.png``, ``report.html`` and the MEGC
        file ``megc/<video>.csv`` in ``out``, which appears whole. ``out`` must be missing or
        empty, or with ``overwrite`` hold an earlier analysis; a folder holding anything else is
        refused, never emptied (the command line's own guard)."""
        megc = megc_csv([Interval(iv.onset, iv.apex, iv.offset, iv.type, iv.score) for iv in self.intervals],
                        [iv.label for iv in self.intervals])
        with output_scope():
            prepare_new_dir(out, "analysis", overwrite=overwrite)
            source = AnalysisSource(self.video, self.fps, self.classes, self.model, self.modality, self.method)
            return write_analysis(out, self.intervals, source,
                                  scores=np.nan_to_num(self.spot.score), threshold=self.spot.threshold,
                                  notes=self.report_notes(), summary=self.summary(),
                                  extra_files={f"{MEGC_FOLDER}/{megc_name(self.video)}": megc})

    def report_notes(self) -> list[str]:
        """The lines above the report's timeline: the truth scores and matches, then warnings."""
        s = self.scores
        if s is None:
            return list(self.notes)
        truth = self.truth or []
        head = [f"Against the truth ({len(truth)} expressions): spotting TP {s.spot_tp}, FP {s.spot_fp}, FN {s.spot_fn}, "
                f"F1 {s.spot_f1:.3f}; recognition F1 on the correctly spotted intervals {s.recognition_f1:.3f} "
                f"(UF1 {s.recognition_uf1:.3f}); STRS {s.strs:.3f} (MEGC 2023-2025 spot-then-recognise)."]
        head += [f"#{i + 1} matches the true {truth[j].kind} expression at frames {truth[j].onset}-{truth[j].offset}, "
                 f"class {truth_class(truth[j].label, self.classes)} (predicted {self.intervals[i].label})."
                 for i, j in self.matches]
        return head + list(self.notes)


def _apex_picture(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    if h <= APEX_HEIGHT:
        return frame
    return cv2.resize(frame, (max(1, round(w * APEX_HEIGHT / h)), APEX_HEIGHT), interpolation=cv2.INTER_AREA)


def classify_intervals(model: Any, source: str | Path, fps: float, intervals: list[Interval],
                       hooks: Hooks | None = None, skip_unclassifiable: bool = False,
                       ) -> tuple[list[ReportInterval], dict[str, float], int, list[str]]:
    """Read each interval's frames from the stream and classify them with ``model``.

    Returns one :class:`ReportInterval` per interval (in the given order), the seconds spent
    reading and encoding and classifying, the most frames held at once, and a note per
    interval that could not be classified (no face on its onset frame: it stays in the
    outputs, unclassified). When no interval can be classified, that is an error, unless
    ``skip_unclassifiable`` (a dataset's evaluation goes on to the next video): then every
    interval stays unclassified, with its note.
    """
    crop_for = model.pipeline.crop_for(str(source))
    reader = IntervalFrames(open_stream(source, fps), intervals, crop_for, _apex_picture)
    out: list[ReportInterval | None] = [None] * len(intervals)
    timings = {"encoding": 0.0, "classification": 0.0}
    start = time.perf_counter()
    for done, (i, frames, apex_frame) in enumerate(reader, start=1):
        iv = intervals[i]
        clip = Clip(frames, 0, iv.apex - iv.onset, iv.offset - iv.onset, fps=fps, clip_id=f"{video_key(source)}@{iv.onset}",
                    source=f"{source} frames {iv.onset}-{iv.offset}")
        image = model.encode(clip, cropped=crop_for is not None)
        t1 = time.perf_counter()
        timings["encoding"] += t1 - start
        probs, attention = model.classify(image)
        probabilities = dict(zip(model.classes, map(float, probs), strict=True))
        out[i] = ReportInterval(iv.onset, iv.apex, iv.offset, iv.kind, iv.score, model.classes[int(np.argmax(probs))],
                                probabilities, apex_frame, image, attention)
        start = time.perf_counter()
        timings["classification"] += start - t1
        if hooks is not None:
            hooks.stage_advanced("classify", done, len(intervals))
    if reader.failed and len(reader.failed) == len(intervals) and not skip_unclassifiable:
        raise MestiError(source, f"none of the {len(intervals)} spotted intervals could be classified; first: "
                                 f"{reader.failed[min(reader.failed)]}")
    notes = []
    for i, reason in sorted(reader.failed.items()):
        iv = intervals[i]
        notes.append(f"interval {i + 1} (frames {iv.onset}-{iv.offset}) not classified: {reason}")
        out[i] = ReportInterval(iv.onset, iv.apex, iv.offset, iv.kind, iv.score)
    missing = [intervals[i] for i, r in enumerate(out) if r is None]
    if missing:
        raise MestiError(source, f"the video ended before frame {missing[0].offset}, where a spotted interval ends")
    return [r for r in out if r is not None], timings, reader.max_held, notes


def analyze(video: str | Path, model: Any, method: str = "flow", fps: float | None = None,
            truth: str | Path | None = None, spotter_options: dict[str, Any] | None = None,
            hooks: Hooks | None = None) -> Analysis:
    """Spot the expressions of ``video`` with ``method``, classify each with ``model`` (a path
    to a bundle, fold checkpoint or run directory, or what :func:`mesti.load_model` returned),
    and with ``truth`` (sheet or interval CSV) score spot-then-recognise.
    ``Analysis.write(folder)`` writes the report.

    Refused before any frame is decoded: a video too short for the method, a truth file
    without a row (or a class) for this video. ``Analysis.warnings`` says what the user must
    hear: a video that decoded short, true expressions past its readable end, a model sharing
    no class with the truth, stretches without a face.
    """
    from mesti.analysis.truth import check_truth_file, class_overlap_note, read_truth, score_video
    from mesti.bundle.predictor import load_model

    if truth is not None:
        check_truth_file(truth)
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    stream = open_stream(video, fps)
    spotter = create_spotter(method, **(spotter_options or {}))
    short = too_short(spotter, stream)
    if short is not None:
        raise MestiError(video, short)
    gt: list[Interval] | None = None
    truth_notes: list[str] = []
    if truth is not None:
        gt, truth_notes = read_truth(truth, video, stream.fps, stream.count)
    t0 = time.perf_counter()
    result = spot_stream(spotter, stream, hooks=hooks)
    timings = {"spotting": time.perf_counter() - t0}
    intervals, more, held, notes = classify_intervals(model, video, stream.fps, list(result.intervals), hooks)
    timings.update(more)
    pipeline = model.pipeline
    warnings = result.warnings()
    analysis = Analysis(str(video), stream.fps, method, model.name, pipeline.modality or "encoded", list(model.classes),
                        result, intervals, timings, held)
    if gt is not None:
        lost = [iv for iv in gt if iv.offset >= result.frames]
        if lost:
            warnings.append(f"{len(lost)} true expression(s) lie past frame {result.frames - 1}, the last that decodes "
                            f"({', '.join(f'{iv.onset}-{iv.offset}' for iv in lost)}): they count as missed")
        overlap = class_overlap_note(gt, analysis.classes)
        if overlap is not None:
            warnings.append(overlap)
        analysis.truth = gt
        analysis.scores, analysis.matches = score_video(list(result.intervals), [iv.label or "" for iv in intervals], gt,
                                                        analysis.classes)
    analysis.warnings = warnings
    analysis.notes = warnings + notes + truth_notes
    if not intervals:
        analysis.notes.append("Nothing was spotted, so nothing was classified.")
    return analysis
