"""Users' own long videos: a manifest of videos plus a CSV of expression intervals.

``videos.csv`` (the manifest): ``video`` (a video file or frame folder, relative to the
root), ``subject``, ``fps`` (required for a frame folder; for a file, blank takes the
container's rate). ``intervals.csv`` (the sheet): ``video`` (as in the manifest), ``onset``,
``apex``, ``offset`` (0-based frame positions, inclusive), ``type`` (micro/macro; blank: by
duration, micro up to 0.5 s), ``label`` (free text). Bad rows are refused with the line,
never skipped: these are a user's own files. A video listed twice (``a.avi`` and ``./a.avi``
are one file), an apex outside onset..offset and an interval given twice are bad rows;
overlapping intervals (a micro-expression inside a macro) are not.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

import cv2

from mesti.clips.intervals import KINDS, Interval, kind_for
from mesti.clips.io import IMAGE_SUFFIXES, open_video
from mesti.datasets.base import ListedOnce
from mesti.datasets.layout import existing_folder, resolve_inside
from mesti.datasets.long import LongVideoAdapter, LongVideo, frame_count, parse_fps, settle_intervals
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import cell_int, check_options
from mesti.errors import MestiError

MANIFEST = "videos.csv"
INTERVALS = "intervals.csv"
VIDEO_COLUMNS = ("video", "subject")
INTERVAL_COLUMNS = ("video", "onset", "offset")


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """``(line, cells)`` of a UTF-8 CSV with ``required`` columns, or :class:`MestiError`."""
    if not path.is_file():
        raise MestiError(path, "no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in required if c not in columns]
            if missing:
                raise MestiError(path, f"missing column(s) {', '.join(missing)} (found {', '.join(columns) or 'none'})")
            return [(reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)})
                    for row in reader]
    except UnicodeDecodeError:
        raise MestiError(path, "not a UTF-8 CSV file") from None


@register_dataset("long-manifest")
class LongManifest(LongVideoAdapter):
    """Your own long videos: videos.csv (video, subject, fps) and intervals.csv (video, onset, apex, offset, type, label).

    ``LongManifest(root, sheet=None, classes=2, manifest=None)``: ``sheet`` is the interval
    CSV (default ``root/intervals.csv``), ``manifest`` the video list (``root/videos.csv``).
    """

    name = "long-manifest"

    def __init__(
        self, root: str | Path, sheet: str | Path | None = None, classes: int = 2,
        manifest: str | Path | None = None, **extra: Any,
    ) -> None:
        check_options(self.name, extra, "sheet, classes, manifest")
        if classes != 2:
            raise MestiError("--classes", f"{self.name} has 2 classes (micro, macro), not {classes}")
        self.root = existing_folder(root, "the folder the manifest's paths are relative to")
        self.sheet_path = Path(sheet) if sheet is not None else self.root / INTERVALS
        self.manifest_path = Path(manifest) if manifest is not None else self.root / MANIFEST

    def _video(self, line: int, cells: dict[str, str]) -> tuple[str, Path, str, float, str]:
        where = f"{self.manifest_path.name} line {line}"
        path = resolve_inside(self.root, cells["video"], where)
        if not cells["subject"]:
            raise MestiError(where, "no subject (folds are split by subject)")
        if path.is_dir():
            kind = "frames"
            if not cells.get("fps"):
                raise MestiError(where, f"{cells['video']} is a folder of frames: its fps is required")
            fps = parse_fps(cells["fps"])
        elif path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES:
            kind = "video"
            if cells.get("fps"):
                fps = parse_fps(cells["fps"])
            else:
                cap = open_video(path)
                fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                cap.release()
                if not fps > 0:
                    raise MestiError(where, f"{cells['video']} states no frame rate: give it in the fps column")
        else:
            raise MestiError(where, f"{cells['video']}: no such video file or frame folder")
        return cells["video"], path, kind, fps, cells["subject"]

    @functools.cached_property
    def _table(self) -> tuple[list[LongVideo], list[str]]:
        entries: dict[Path, tuple[str, str, Path, str, float, str]] = {}
        listed = ListedOnce("long video")
        for line, cells in read_csv_rows(self.manifest_path, VIDEO_COLUMNS):
            name, path, kind, fps, subject = self._video(line, cells)
            where = f"{self.manifest_path.name} line {line}"
            listed.add(path, where, f"line {line}", subject, name)
            entries[path.resolve()] = (where, name, path, kind, fps, subject)
        found: dict[Path, list[tuple[Interval, str]]] = {key: [] for key in entries}
        for line, cells in read_csv_rows(self.sheet_path, INTERVAL_COLUMNS):
            where = f"{self.sheet_path.name} line {line}"
            key = resolve_inside(self.root, cells["video"], where).resolve() if cells["video"] else None
            if key not in entries:
                raise MestiError(where, f"video {cells['video']!r} is not in {self.manifest_path.name}")
            onset, offset = cell_int(cells["onset"]), cell_int(cells["offset"])
            apex = cell_int(cells.get("apex", "")) if cells.get("apex") else None
            if onset is None or offset is None:
                raise MestiError(where, f"onset {cells['onset']!r} and offset {cells['offset']!r} must be whole frame numbers")
            if cells.get("apex") and apex is None:
                raise MestiError(where, f"apex {cells['apex']!r} must be a whole frame number (or blank: the middle frame)")
            fps = entries[key][4]
            kind = cells.get("type", "").lower() or kind_for(offset - onset + 1, fps)
            if kind not in KINDS:
                raise MestiError(where, f"type {cells.get('type')!r} is neither micro nor macro")
            middle = (onset + offset) // 2
            found[key].append((Interval(onset, middle if apex is None else apex, offset, kind, 1.0,
                                        cells.get("label", "")), where))
        videos: list[LongVideo] = []
        issues: list[str] = []
        for key, (where, name, path, kind, fps, subject) in entries.items():
            n = frame_count(path, kind)
            kept, more = settle_intervals(found[key], n, name, strict=True)
            issues += more
            video_id = path.name if kind == "frames" else path.stem
            videos.append(LongVideo(self.name, subject, video_id, path, fps, kind, tuple(kept), n, self.root, where))
        return videos, issues
