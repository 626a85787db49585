"""SAMM Long Videos: ``SAMM_LongVideos_V3_Release.xlsx`` and ``SAMM_longvideos/<video>/`` frames.

Layout (what public code that reads the release shows; the adapter reports what it cannot
match instead of guessing)::

    <root>/SAMM_LongVideos_V3_Release.xlsx        (V1/V2 names too) a 10-row preamble, then
                                                   Subject, Filename, Inducement Code, Onset,
                                                   Apex, Offset, Duration, Type, Action Units, Notes
    <root>/SAMM_longvideos/006_1/<frames>          one folder per video, 200 fps, 1-based numbers

Filename ``006_1_2`` is expression 2 of video ``006_1``; Type ``Micro - 1/2`` or ``Macro``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd

from mesti.clips.intervals import Interval
from mesti.datasets.layout import existing_folder, release_folder
from mesti.datasets.long import LongVideoAdapter, parse_fps, LongVideo, first_frame_number, frame_count, settle_intervals
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import cell_int, cell_text, check_options, find_sheet, is_blank, read_excel
from mesti.errors import MestiError

_SHEET_GLOBS = ("SAMM_LongVideos_V*_Release.xlsx",)
PREAMBLE_ROWS = 10
REQUIRED = ("Subject", "Filename", "Onset", "Apex", "Offset", "Type")


def header_row(path: Path, required: tuple[str, ...], first_guess: int, scan: int = 30) -> int:
    """The 0-based row holding every ``required`` column name (tried at ``first_guess`` first)."""
    raw = read_excel(path, 0, header=None)  # type: ignore[arg-type]
    order = [first_guess, *[r for r in range(min(scan, len(raw))) if r != first_guess]]
    for r in order:
        if r < len(raw) and all(name in {cell_text(v) for v in raw.iloc[r].tolist()} for name in required):
            return r
    raise MestiError(path, f"no header row with {', '.join(required)} in the first {scan} rows; is this the SAMM long-video sheet?")


def read_header_sheet(path: Path, required: tuple[str, ...], first_guess: int) -> pd.DataFrame:
    row = header_row(path, required, first_guess)
    df = pd.read_excel(path, sheet_name=0, header=row, dtype={"Subject": str})
    df.columns = [str(c).strip() for c in df.columns]
    return df.astype(object).where(df.notna(), None)


@register_dataset("samm-long")
class SAMMLong(LongVideoAdapter):
    """SAMM Long Videos (spotting): SAMM_LongVideos_V*_Release.xlsx and SAMM_longvideos/<video>/ frames.

    ``SAMMLong(root, sheet=None, classes=2, fps=200)``: the two classes are the expression
    types micro and macro. ``root`` holds ``SAMM_longvideos/`` (or is it). ``fps`` is the
    release's 200 unless a copy was recorded otherwise (the synthetic 30 fps sets).
    """

    name = "samm-long"
    fps = 200.0

    def __init__(
        self, root: str | Path, sheet: str | Path | None = None, classes: int = 2, fps: float | str = 200.0, **extra: Any
    ) -> None:
        check_options(self.name, extra, "sheet, classes, fps")
        self.fps = parse_fps(fps)
        if classes != 2:
            raise MestiError("--classes", f"{self.name} has 2 classes (micro, macro), not {classes}")
        self.root = existing_folder(root, "the folder holding SAMM_longvideos/")
        self.data_root = release_folder(self.root, "SAMM_longvideos")
        self.sheet_path = find_sheet(sheet, [self.root, self.data_root.parent], _SHEET_GLOBS, "the SAMM long-video sheet")

    @functools.cached_property
    def _table(self) -> tuple[list[LongVideo], list[str]]:
        df = read_header_sheet(self.sheet_path, REQUIRED, PREAMBLE_ROWS)
        issues: list[str] = []
        rows: dict[tuple[str, str], list[tuple[Interval, str]]] = {}
        header = int(header_row(self.sheet_path, REQUIRED, PREAMBLE_ROWS))
        for i, rec in enumerate(df.to_dict("records")):
            if all(is_blank(v) for v in rec.values()):
                continue
            where = f"{self.sheet_path.name} row {header + 2 + i}"
            subject, filename = cell_text(rec["Subject"]), cell_text(rec["Filename"])
            if subject.isdigit() and len(subject) < 3:
                subject = subject.zfill(3)
            video = filename.rsplit("_", 1)[0] if filename.count("_") >= 2 else ""
            onset, apex, offset = (cell_int(rec[c]) for c in ("Onset", "Apex", "Offset"))
            kind_text = cell_text(rec["Type"]).lower()
            kind = "micro" if kind_text.startswith("micro") else "macro" if kind_text.startswith("macro") else None
            if not video:
                issues.append(f"{where}: Filename {filename!r} is not <subject>_<inducement>_<n>; row skipped")
            elif onset is None or offset is None:
                issues.append(f"{where}: Onset {rec['Onset']!r}, Offset {rec['Offset']!r} are not frame numbers; row skipped")
            elif kind is None:
                issues.append(f"{where}: Type {rec['Type']!r} is neither Micro nor Macro; row skipped")
            else:
                if apex is None or apex <= 0:
                    issues.append(f"{where}: Apex {rec['Apex']!r} is no frame; apex taken as the middle frame")
                    apex = -1
                iv = Interval(onset, apex, offset, kind, 1.0, cell_text(rec.get("Notes")))
                rows.setdefault((subject, video), []).append((iv, where))
        videos: list[LongVideo] = []
        for (subject, video), items in rows.items():
            folder = self.data_root / video
            where = items[0][1]
            if not folder.is_dir():
                videos.append(LongVideo(self.name, subject, video, folder, self.fps, "frames", tuple(iv for iv, _ in items), 0,
                                        self.root, where, f"no folder {folder} for video {video} ({where})"))
                continue
            try:
                first = first_frame_number(folder)
            except MestiError as exc:  # a folder without frames, or holding a file that is no image
                videos.append(LongVideo(self.name, subject, folder.name, folder, self.fps, "frames",
                                        tuple(iv for iv, _ in items), 0, self.root, where, f"{exc.where}: {exc.what}"))
                continue
            # the sheet counts file numbers; spotting counts positions
            shifted = [(Interval(iv.onset - first, iv.apex - first if iv.apex > 0 else -1, iv.offset - first, iv.kind,
                                 iv.score, iv.label), w) for iv, w in items]
            n = frame_count(folder, "frames")
            kept, more = settle_intervals(shifted, n, video, strict=False)
            issues += more
            videos.append(LongVideo(self.name, subject, video, folder, self.fps, "frames", tuple(kept), n, self.root, where))
        return videos, issues
