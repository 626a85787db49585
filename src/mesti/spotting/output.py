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
from mesti.errors import MestiError
from mesti.spotting.result import SpotResult
from mesti.utils.atomic import write_bytes, write_json, write_text

#: Said in every JSON output beside the intervals (the one convention, :func:`~mesti.clips.intervals.frame_seconds`).
FRAME_CONVENTION = ("0-based frames, onset..offset inclusive; onset_s and apex_s are the starts of those frames, "
                    "offset_s the end of the offset frame")
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
        "frame_convention": FRAME_CONVENTION,
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
    """``intervals.csv``, ``intervals.json``, ``score.png`` and the MEGC file
    ``megc/<video>.csv`` of one video in ``out_dir``."""
    (out_dir / MEGC_FOLDER).mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "intervals.csv", out_dir / "intervals.json", out_dir / "score.png",
             out_dir / MEGC_FOLDER / megc_name(r.video)]
    write_text(paths[0], intervals_csv([r]))
    write_json(paths[1], result_json(r))
    write_bytes(paths[2], score_png(r, truth))
    write_text(paths[3], megc_csv(r.intervals))
    return paths


def video_key(source: str | Path) -> str:
    """How results and ground truth name a video: a folder's name, a file's stem."""
    path = Path(source)
    return path.stem if path.suffix.lower() in VIDEO_SUFFIXES else path.name


def read_interval_rows(path: Path, required: tuple[str, ...] = ()) -> dict[str, list[tuple[Interval, str]]]:
    """Intervals per video from a CSV in :data:`CSV_COLUMNS` (what ``mesti spot`` writes), each
    with the line it came from; a ``label`` column (an expression's class, for ground truth)
    is kept. ``required`` names further columns the file must have."""
    from mesti.datasets.long_manifest import read_csv_rows

    out: dict[str, list[tuple[Interval, str]]] = {}
    for line, cells in read_csv_rows(path, ("video", "onset", "offset", "type", *required)):
        where = f"{path.name} line {line}"
        if not cells["video"]:
            raise MestiError(where, "no video named")
        iv = _interval(cells, where, cells.get("label", ""))
        out.setdefault(video_key(cells["video"]), []).append((iv, where))
    return out


def read_intervals_csv(path: Path) -> dict[str, list[Interval]]:
    """:func:`read_interval_rows` without the line numbers."""
    return {video: [iv for iv, _ in rows] for video, rows in read_interval_rows(path).items()}


def _interval(cells: dict[str, str], where: str, label: str) -> Interval:
    """One interval from a CSV row's cells (onset, offset, type; apex and score optional)."""
    try:
        onset, offset = int(cells["onset"]), int(cells["offset"])
        apex = int(cells["apex"]) if cells.get("apex") else (onset + offset) // 2
        score = float(cells["score"]) if cells.get("score") else 1.0
    except ValueError:
        raise MestiError(where, "onset, apex and offset must be whole frame numbers, score a number") from None
    if offset < onset or onset < 0:
        raise MestiError(where, f"onset {onset} and offset {offset} are no interval (reversed or negative)")
    if not np.isfinite(score):
        raise MestiError(where, f"score {cells['score']!r} is not a finite number")
    kind = MEGC_TYPES.get(cells["type"].strip().lower())
    if kind is None:
        raise MestiError(where, f"type {cells['type']!r} is neither micro nor macro")
    return Interval(onset, apex, offset, kind, score, label)


# -- the MEGC 2023-2025 spot-then-recognise format: one CSV per video -------------------------

#: Columns of a per-video MEGC file: 0-based frames onset..offset inclusive, the type, the class.
MEGC_COLUMNS = ("onset", "offset", "type", "class")
#: Type names read (MEGC code also writes ``me`` / ``mae``); ``micro`` / ``macro`` are written.
MEGC_TYPES = {"micro": "micro", "macro": "macro", "me": "micro", "mae": "macro"}
MEGC_FOLDER = "megc"


def megc_csv(intervals: Sequence[Interval], classes: Sequence[str | None] | None = None) -> str:
    """One video's intervals in :data:`MEGC_COLUMNS`; ``classes`` the predicted class of each
    (blank where none: spotting alone, or an interval that could not be classified)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MEGC_COLUMNS)
    labels = list(classes) if classes is not None else [None] * len(intervals)
    for iv, label in zip(intervals, labels, strict=True):
        w.writerow([iv.onset, iv.offset, iv.kind, label or ""])
    return buf.getvalue()


def megc_name(video: str | Path) -> str:
    """The file a video's MEGC CSV is written to: ``<video key>.csv``."""
    return f"{video_key(video)}.csv"


def read_megc_folder(folder: Path) -> dict[str, list[tuple[Interval, str]]]:
    """Intervals per video from a folder of per-video MEGC CSVs (the video is the file's name);
    a non-empty ``class`` becomes the interval's label (its predicted class)."""
    from mesti.datasets.long_manifest import read_csv_rows

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if not files:
        raise MestiError(folder, "no per-video .csv file (the MEGC format: one <video>.csv per video, "
                                 f"columns {', '.join(MEGC_COLUMNS)})")
    out: dict[str, list[tuple[Interval, str]]] = {}
    for path in files:
        rows = out.setdefault(path.stem, [])
        for line, cells in read_csv_rows(path, ("onset", "offset", "type")):
            where = f"{path.name} line {line}"
            rows.append((_interval(cells, where, cells.get("class", "")), where))
    return out


def read_predictions(path: Path) -> dict[str, list[tuple[Interval, str]]]:
    """Predicted intervals per video, each with its line: a folder of per-video MEGC CSVs
    (:func:`read_megc_folder`) or one CSV in :data:`CSV_COLUMNS` (:func:`read_interval_rows`)."""
    if path.is_dir():
        return read_megc_folder(path)
    return read_interval_rows(path)
