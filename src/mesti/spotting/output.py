"""Writing spotting results: intervals as CSV and JSON, the score over time as a PNG.

Every file goes through an atomic rename, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mesti.clips.intervals import Interval
from mesti.clips.io import VIDEO_SUFFIXES
from mesti.spotting.result import SpotResult
from mesti.utils.atomic import write_bytes, write_json, write_text

CSV_COLUMNS = ("video", "onset", "apex", "offset", "onset_s", "apex_s", "offset_s", "type", "score")


def intervals_csv(results: Sequence[SpotResult]) -> str:
    """One row per spotted interval: 0-based frames, seconds, type and score."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in results:
        for iv in r.intervals:
            sec = iv.seconds(r.fps)
            w.writerow([video_key(r.video), iv.onset, iv.apex, iv.offset, f"{sec['onset_s']:.4f}", f"{sec['apex_s']:.4f}",
                        f"{sec['offset_s']:.4f}", iv.kind, f"{iv.score:.6g}"])
    return buf.getvalue()


def result_json(r: SpotResult) -> dict[str, object]:
    return {
        "video": r.video, "method": r.method, "fps": r.fps, "frames": r.frames, "threshold": r.threshold,
        "settings": r.settings, "gaps": [list(g) for g in r.gaps], "frames_held": r.frames_held,
        "blinks": [list(b) for b in r.blinks], "talking": [list(t) for t in r.talking], "faces_seen": r.faces_seen,
        "frame_convention": "0-based, onset..offset inclusive; offset_s is the end of the offset frame",
        "intervals": [iv.to_json(r.fps) for iv in r.intervals],
    }


def score_png(r: SpotResult, truth: Sequence[Interval] | None = None) -> bytes:
    """The per-frame score with the threshold, the spotted intervals and (when known) the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(r.score)) / r.fps
    fig, ax = plt.subplots(figsize=(12, 3.2))
    ax.plot(t, np.nan_to_num(r.score), lw=0.8, color="black", label=f"{r.method} score")
    ax.axhline(r.threshold, color="grey", ls="--", lw=0.8, label="threshold")
    colours = {"micro": "tab:red", "macro": "tab:blue"}
    top = float(np.nanmax(r.score)) if len(r.score) and np.isfinite(np.nanmax(r.score)) else 1.0
    for iv in r.intervals:
        ax.axvspan(iv.onset / r.fps, (iv.offset + 1) / r.fps, color=colours[iv.kind], alpha=0.25)
    for iv in truth or ():
        ax.plot([iv.onset / r.fps, (iv.offset + 1) / r.fps], [top * 1.05] * 2, color=colours[iv.kind], lw=4)
    for a, b in r.gaps:
        ax.axvspan(a / r.fps, (b + 1) / r.fps, color="yellow", alpha=0.3)
    ax.set_xlabel("seconds")
    ax.set_title(f"{Path(r.video).name}: {len(r.intervals)} spotted (shaded: red micro, blue macro"
                 + ("; bars: ground truth" if truth else "") + ")", fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_result(r: SpotResult, out_dir: Path, truth: Sequence[Interval] | None = None) -> list[Path]:
    """``intervals.csv``, ``intervals.json`` and ``score.png`` of one video in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "intervals.csv", out_dir / "intervals.json", out_dir / "score.png"]
    write_text(paths[0], intervals_csv([r]))
    write_json(paths[1], result_json(r))
    write_bytes(paths[2], score_png(r, truth))
    return paths


def video_key(source: str | Path) -> str:
    """How results and ground truth name a video: a folder's name, a file's stem."""
    path = Path(source)
    return path.stem if path.suffix.lower() in VIDEO_SUFFIXES else path.name


def read_intervals_csv(path: Path) -> dict[str, list[Interval]]:
    """Intervals per video from a CSV in :data:`CSV_COLUMNS` (what ``mesti spot`` writes); an
    optional ``label`` column (an expression's class, for ground truth) is kept."""
    from mesti.datasets.long_manifest import read_csv_rows
    from mesti.errors import MestiError

    out: dict[str, list[Interval]] = {}
    for line, cells in read_csv_rows(path, ("video", "onset", "offset", "type")):
        where = f"{path.name} line {line}"
        try:
            onset, offset = int(cells["onset"]), int(cells["offset"])
            apex = int(cells["apex"]) if cells.get("apex") else (onset + offset) // 2
            score = float(cells["score"]) if cells.get("score") else 1.0
        except ValueError:
            raise MestiError(where, "onset, apex and offset must be whole frame numbers, score a number") from None
        if offset < onset or onset < 0:
            raise MestiError(where, f"onset {onset} and offset {offset} are no interval (reversed or negative)")
        if cells["type"] not in ("micro", "macro"):
            raise MestiError(where, f"type {cells['type']!r} is neither micro nor macro")
        out.setdefault(video_key(cells["video"]), []).append(
            Interval(onset, apex, offset, cells["type"], score, cells.get("label", "")))
    return out
