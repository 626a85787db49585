"""The outputs of analysing one video: ``intervals.csv`` / ``intervals.json``, ``timeline.png``
and ``report.html``, written together into one folder that appears whole or not at all.

Spotting produces the intervals and the per-frame motion score; a trained model classifies
each interval; this module only writes what they found.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mesti.clips.intervals import frame_seconds
from mesti.errors import MestiError
from mesti.reports.html import ReportInterval, write_html_report
from mesti.utils.atomic import atomic_dir, write_bytes, write_text


def interval_rows(intervals: Sequence[ReportInterval], fps: float, classes: Sequence[str]) -> list[dict[str, Any]]:
    """One row per interval: frames and seconds, type, spot score, predicted class, every probability."""
    rows = []
    for iv in intervals:
        seconds = frame_seconds(iv.onset, iv.apex, iv.offset, fps)
        row: dict[str, Any] = {
            "onset": iv.onset, "apex": iv.apex, "offset": iv.offset, **{k: round(v, 4) for k, v in seconds.items()},
            "type": iv.type, "score": float(iv.score), "prediction": iv.label,
        }
        row.update({f"prob_{c}": float(iv.probabilities[c]) if c in iv.probabilities else None for c in classes})
        rows.append(row)
    return rows


def timeline_png(scores: np.ndarray, fps: float, intervals: Sequence[ReportInterval], classes: Sequence[str],
                 threshold: float | None = None) -> bytes:
    """The motion score over time (seconds) with each interval shaded in its predicted class's colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    scores = np.asarray(scores, dtype=np.float64).ravel()
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(classes)}
    fig, ax = plt.subplots(figsize=(10, 2.8))
    try:
        t = np.arange(len(scores)) / fps
        ax.plot(t, scores, color="0.25", linewidth=0.8, label="motion score")
        if threshold is not None:
            ax.axhline(threshold, color="0.5", linestyle="--", linewidth=0.8, label="threshold")
        for iv in intervals:
            colour = colours.get(iv.label or "", (0.6, 0.6, 0.6, 1.0))
            ax.axvspan(iv.onset / fps, (iv.offset + 1) / fps, color=colour, alpha=0.35, linewidth=0)
        handles = [Patch(color=colours[c], alpha=0.35, label=c) for c in classes if any(iv.label == c for iv in intervals)]
        ax.legend(handles=ax.get_legend_handles_labels()[0] + handles, loc="upper right", fontsize=8, ncols=4)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("score")
        ax.set_xlim(0, max(len(scores), 1) / fps)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    finally:
        plt.close(fig)
    return buf.getvalue()


@dataclass(frozen=True)
class AnalysisSource:
    """What an analysis is of and what made it: the head of ``intervals.json`` and ``report.html``."""

    video: str
    fps: float
    classes: Sequence[str]
    model: str = ""
    modality: str = "encoded"
    method: str = ""


def write_analysis(out: str | os.PathLike[str], intervals: Sequence[ReportInterval], source: AnalysisSource, *,
                   scores: np.ndarray | None = None, threshold: float | None = None, notes: Sequence[str] = (),
                   summary: Mapping[str, Any] | None = None, extra_files: Mapping[str, str] | None = None) -> Path:
    """Write ``intervals.csv``, ``intervals.json``, ``timeline.png`` (when ``scores`` are given)
    and ``report.html`` into ``out``. An empty ``intervals`` is a valid analysis: nothing spotted.
    ``summary`` (timings, truth scores) is added to ``intervals.json``; ``extra_files`` (relative
    path -> text, such as the MEGC per-video CSV) are written with them."""
    import pandas as pd

    fps, video, classes, model, modality, method = (source.fps, source.video, source.classes, source.model,
                                                    source.modality, source.method)
    if not fps > 0:
        raise MestiError(video, f"frame rate must be positive, got {fps}")
    rows = interval_rows(intervals, fps, classes)
    columns = ["onset", "apex", "offset", "onset_s", "apex_s", "offset_s", "type", "score", "prediction",
               *(f"prob_{c}" for c in classes)]
    timeline = timeline_png(scores, fps, intervals, classes, threshold) if scores is not None else None
    with atomic_dir(out, "analysis") as tmp:
        write_text(tmp / "intervals.csv", pd.DataFrame(rows, columns=columns).to_csv(index=False))
        write_text(tmp / "intervals.json", json.dumps(
            {"video": video, "fps": fps, "method": method, "model": model, "classes": list(classes),
             **{k: v for k, v in (summary or {}).items() if k != "intervals"}, "notes": list(notes),
             "intervals": rows}, indent=2) + "\n")
        if timeline is not None:
            write_bytes(tmp / "timeline.png", timeline)
        write_html_report(tmp / "report.html", intervals, fps=fps, video=video, model=model, modality=modality,
                          method=method, timeline_png=timeline, notes=notes)
        for name, text in (extra_files or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            write_text(tmp / name, text)
    return Path(out)
