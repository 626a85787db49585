"""CAS(ME)^3 part A as long videos for spotting: each (Subject, Filename)'s whole ``color/`` sequence.

Ground truth is ``CAS(ME)3_part_A_v2.xls``, sheet ``AU+Emotion`` (Subject, Filename, Onset,
Apex, Offset, AU, Expression type, Objective class; ``Macro-expression`` or
``Micro-expression``); sheet ``eye blink`` (Subject, Filename, Onset, Offset) gives labelled
blinks, kept apart from the truth (:attr:`LongVideo.blinks`). Sheet numbers are jpg numbers;
an interval becomes 0-based positions among the frames the folder holds, so a frame missing
from the folder shifts nothing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mesti.clips.intervals import BLINK, Interval
from mesti.clips.io import sorted_frame_paths
from mesti.datasets.base import OutsideRootError
from mesti.datasets.casme3_lists import FrameKey
from mesti.datasets.long import LongVideo, settle_intervals
from mesti.datasets.sheets import cell_int, cell_text, is_blank, read_excel, require_columns
from mesti.errors import MestiError

LONG_SHEET = "AU+Emotion"
BLINK_SHEET = "eye blink"
LONG_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "Expression type")
BLINK_COLUMNS = ("Subject", "Filename", "Onset", "Offset")
_NUMBER = re.compile(r"(\d+)\D*$")
#: Longer than this is no micro-expression by any definition (the limit is 0.5 s): such a
#: row of the micro-expression sheet is not made a clip, and such a micro interval is reported.
MAX_SPAN_SECONDS = 10.0

#: ``(Subject, Filename) -> (colour folder, note or None)``: the adapter's folder lookup.
FolderOf = Callable[[str, str], tuple[Path, str | None]]


@dataclass(frozen=True)
class SheetInterval:
    """One row of ``AU+Emotion`` or ``eye blink`` in the sheet's jpg numbers."""

    where: str
    subject: str
    filename: str
    onset: int
    apex: int | None
    offset: int
    kind: str  # micro, macro or blink


def read_long_sheet(path: Path) -> tuple[list[SheetInterval], list[str]]:
    """The expressions of ``AU+Emotion``, and the rows it skipped (with why)."""
    df = read_excel(path, LONG_SHEET, header=0)
    require_columns(df, LONG_COLUMNS, f"{path} (sheet {LONG_SHEET})", "the CAS(ME)^3 part A all-expression sheet")
    rows: list[SheetInterval] = []
    issues: list[str] = []
    for i, rec in enumerate(df.to_dict("records")):
        if all(is_blank(v) for v in rec.values()):
            continue
        where = f"{path.name} {LONG_SHEET} row {i + 2}"
        subject, filename = cell_text(rec["Subject"]), cell_text(rec["Filename"])
        onset, apex, offset = cell_int(rec["Onset"]), cell_int(rec["Apex"]), cell_int(rec["Offset"])
        kind_text = cell_text(rec["Expression type"]).lower()
        kind = "micro" if kind_text.startswith("micro") else "macro" if kind_text.startswith("macro") else None
        if not subject or not filename:
            issues.append(f"{where}: no Subject or Filename; row skipped")
        elif onset is None or offset is None:
            issues.append(f"{where}: Onset {rec['Onset']!r}, Offset {rec['Offset']!r} are not frame numbers; row skipped")
        elif kind is None:
            issues.append(f"{where}: Expression type {rec['Expression type']!r} is neither Micro- nor Macro-expression; row skipped")
        else:
            rows.append(SheetInterval(f"{where} ({subject} {filename})", subject, filename, onset, apex, offset, kind))
    return rows, issues


def read_blink_sheet(path: Path) -> tuple[list[SheetInterval], list[str]]:
    """The labelled blinks of sheet ``eye blink``; a workbook without that sheet has none (reported)."""
    try:
        df = read_excel(path, BLINK_SHEET, header=0)
    except MestiError:
        return [], [f"{path.name}: no sheet {BLINK_SHEET!r}; no labelled blinks"]
    require_columns(df, BLINK_COLUMNS, f"{path} (sheet {BLINK_SHEET})", "the CAS(ME)^3 eye-blink sheet")
    rows: list[SheetInterval] = []
    issues: list[str] = []
    for i, rec in enumerate(df.to_dict("records")):
        if all(is_blank(v) for v in rec.values()):
            continue
        where = f"{path.name} {BLINK_SHEET} row {i + 2}"
        subject, filename = cell_text(rec["Subject"]), cell_text(rec["Filename"])
        onset, offset = cell_int(rec["Onset"]), cell_int(rec["Offset"])
        if not subject or not filename or onset is None or offset is None:
            issues.append(f"{where}: no Subject, Filename, Onset or Offset; row skipped")
            continue
        rows.append(SheetInterval(f"{where} ({subject} {filename})", subject, filename, onset, None, offset, BLINK))
    return rows, issues


def frame_numbers(folder: Path, root: Path) -> list[int]:
    """The jpg numbers of a colour folder in order; :class:`MestiError` for a name without a
    number, :class:`OutsideRootError` for a frame that links out of ``root``."""
    real_root = root.resolve()
    numbers = []
    for p in sorted_frame_paths(folder):
        if p.is_symlink() and not p.resolve().is_relative_to(real_root):
            raise OutsideRootError(p, f"links outside the dataset root {root}; refused")
        m = _NUMBER.search(p.stem)
        if m is None:
            raise MestiError(p, "a frame name without a number; CAS(ME)^3 frames are <N>.jpg")
        numbers.append(int(m.group(1)))
    return numbers


class _Positions:
    """Sheet jpg numbers -> 0-based positions among a folder's frames, saying what it settles."""

    def __init__(self, numbers: list[int], video: str) -> None:
        self.numbers, self.video = numbers, video
        self.at = {n: i for i, n in enumerate(numbers)}

    def __call__(self, n: int, end: bool, where: str, notes: list[str]) -> int:
        if n in self.at:
            return self.at[n]
        first, last = self.numbers[0], self.numbers[-1]
        if n < first:
            notes.append(f"{where}: frame {n} is before the first frame {first} of {self.video}; taken as {first}")
            return 0
        if n > last:
            return len(self.numbers) + n - last - 1  # past the end: settle_intervals reports it
        i = bisect.bisect_left(self.numbers, n)
        i = i - 1 if end else i
        notes.append(f"{where}: frame {n} is not in {self.video}; taken as {self.numbers[i]}, the nearest inside")
        return i


def _to_interval(row: SheetInterval, pos: _Positions, label: str, notes: list[str]) -> Interval:
    onset, offset = pos(row.onset, False, row.where, notes), pos(row.offset, True, row.where, notes)
    apex = -1 if row.apex is None else pos(row.apex, False, row.where, notes)
    if row.kind == BLINK:
        apex = (onset + offset) // 2
    return Interval(onset, apex, offset, row.kind, 1.0, label)


def long_videos(
    dataset: str, root: Path, fps: float, rows: list[SheetInterval], blinks: list[SheetInterval],
    folder_of: FolderOf, labels: dict[tuple[str, str, int], str], damaged: dict[FrameKey, str],
    blink_videos: bool = False,
) -> tuple[list[LongVideo], list[str]]:
    """The long videos the sheet names (and, with ``blink_videos``, those with blinks only).

    ``labels`` gives a micro-expression its emotion by (Subject, Filename, Onset) from the
    micro-expression sheet; a video with a frame of the damaged list is skipped (it cannot be
    decoded whole), reported.
    """
    issues: list[str] = []
    by_video: dict[tuple[str, str], list[SheetInterval]] = {}
    for r in rows:
        by_video.setdefault((r.subject, r.filename), []).append(r)
    blinks_of: dict[tuple[str, str], list[SheetInterval]] = {}
    for b in blinks:
        blinks_of.setdefault((b.subject, b.filename), []).append(b)
    orphans = [k for k in blinks_of if k not in by_video]
    if orphans and not blink_videos:
        n = sum(len(blinks_of[k]) for k in orphans)
        issues.append(f"{n} labelled blink(s) of {len(orphans)} video(s) without any expression in {LONG_SHEET} are not "
                      "in the long view (the sheet does not say those videos were coded for expressions; "
                      "blink_videos=yes adds them as expression-free videos)")
    if blink_videos:
        for k in orphans:
            by_video[k] = []
    videos: list[LongVideo] = []
    seen: dict[Path, str] = {}
    for (subject, filename), items in by_video.items():
        video_id = f"{subject}_{filename}"
        folder, note = folder_of(subject, filename)
        if note:
            issues.append(f"{subject} {filename}: {note}")
        if not folder.is_dir():
            issues.append(f"video {video_id} has no folder {folder}; its {len(items)} expression(s) skipped")
            continue
        if not folder.resolve().is_relative_to(root.resolve()):
            raise OutsideRootError(folder, f"links outside the dataset root {root}; refused")
        if folder in seen:
            issues.append(f"video {video_id} is the folder of {seen[folder]} ({folder}); its {len(items)} expression(s) skipped")
            continue
        seen[folder] = video_id
        broken = sorted(n for (s, f, n) in damaged if s == subject and f == filename.lower())
        if broken:
            issues.append(f"video {video_id}: {len(broken)} frame(s) listed as damaged (e.g. {broken[0]}.jpg); "
                          f"it cannot be decoded whole, so its {len(items)} expression(s) are skipped")
            continue
        try:
            numbers = frame_numbers(folder, root)
        except OutsideRootError:
            raise
        except MestiError as exc:
            issues.append(f"video {video_id}: {exc.where}: {exc.what}; skipped")
            continue
        pos = _Positions(numbers, video_id)
        notes: list[str] = []
        gaps = numbers[-1] - numbers[0] + 1 - len(numbers)
        if gaps:
            notes.append(f"video {video_id}: {gaps} frame number(s) missing between {numbers[0]} and {numbers[-1]}; "
                         "intervals are placed on the frames present")
        for r in items:
            if r.kind == "micro" and r.offset - r.onset + 1 > MAX_SPAN_SECONDS * fps:
                notes.append(f"{r.where}: a Micro-expression of {r.offset - r.onset + 1} frames "
                             f"({(r.offset - r.onset + 1) / fps:.0f} s); kept as the sheet types it")
        truth = [(_to_interval(r, pos, labels.get((subject, filename, r.onset), ""), notes), r.where) for r in items]
        kept, more = settle_intervals(truth, len(numbers), video_id, strict=False)
        marks = [(_to_interval(b, pos, BLINK, notes), b.where) for b in blinks_of.get((subject, filename), [])]
        blink_kept, blink_more = settle_intervals(marks, len(numbers), video_id, strict=False)
        issues += list(dict.fromkeys(notes)) + more + blink_more
        videos.append(LongVideo(dataset, subject, video_id, folder, fps, "frames", tuple(kept), len(numbers),
                                root=root, blinks=tuple(blink_kept)))
    return videos, issues
