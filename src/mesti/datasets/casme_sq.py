"""CAS(ME)^2 part A (long videos): ``CAS(ME)^2code_final*.xlsx`` and ``rawpic/s15/15_0101.../img1.jpg``.

What public code that reads the release shows (the adapter reports what it cannot match
rather than guessing): sheet 1 without a header (participant number, video name with
expression number such as ``anger1_1``, onset, apex, offset, AUs, estimated emotion,
expression type ``micro-expression``/``macro-expression``, self-reported emotion); sheet
"naming rule1" maps the participant number to the subject folder (1 -> s15); sheet "naming
rule2" maps the video name (``anger1``) to the 4-digit code in folder names (``0401``).
30 fps, 1-based frame numbers; an offset of 0 means "not annotated": the apex ends it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from mesti.clips.intervals import Interval
from mesti.datasets.layout import existing_folder, release_folder
from mesti.datasets.long import LongVideoAdapter, LongVideo, first_frame_number, frame_count, parse_fps, settle_intervals
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import cell_int, cell_text, check_options, find_sheet, is_blank, read_excel
from mesti.errors import MestiError

_SHEET_GLOBS = ("CAS(ME)^2code_final*.xlsx", "CAS(ME)2code_final*.xlsx")
_SUBJECT = re.compile(r"^s?(\d+)$", re.IGNORECASE)
_CODE = re.compile(r"^\d{1,4}$")


def _pairs(path: Path, sheet: int) -> list[tuple[str, str]]:
    """Two-cell rows of a naming-rule sheet as (first cell, second cell) text, blanks dropped."""
    df = read_excel(path, sheet, header=None)  # type: ignore[arg-type]
    out = []
    for row in df.itertuples(index=False):
        cells = [cell_text(v) for v in row if not is_blank(v)]
        if len(cells) >= 2:
            out.append((cells[0], cells[1]))
    return out


@register_dataset("casme-sq")
class CASMESquare(LongVideoAdapter):
    """CAS(ME)^2 long videos (spotting): CAS(ME)^2code_final*.xlsx and rawpic/sNN/NN_<code>*/img<n>.jpg.

    ``CASMESquare(root, sheet=None, classes=2, fps=30)``: classes are micro and macro;
    ``root`` holds ``rawpic/`` (or is it).
    """

    name = "casme-sq"

    def __init__(
        self, root: str | Path, sheet: str | Path | None = None, classes: int = 2, fps: float | str = 30.0, **extra: Any
    ) -> None:
        check_options(self.name, extra, "sheet, classes, fps")
        if classes != 2:
            raise MestiError("--classes", f"{self.name} has 2 classes (micro, macro), not {classes}")
        self.fps = parse_fps(fps)
        self.root = existing_folder(root, "the folder holding rawpic/")
        self.data_root = release_folder(self.root, "rawpic")
        self.sheet_path = find_sheet(sheet, [self.root, self.data_root.parent], _SHEET_GLOBS, "the CAS(ME)^2 code sheet")

    def _naming(self, issues: list[str]) -> tuple[dict[int, str], dict[str, str]]:
        subjects: dict[int, str] = {}
        for a, b in _pairs(self.sheet_path, 1):
            m = _SUBJECT.match(b)
            if a.isdigit() and m:
                subjects[int(a)] = f"s{int(m.group(1))}"
        codes: dict[str, str] = {}
        for a, b in _pairs(self.sheet_path, 2):
            if _CODE.match(a) and not _CODE.match(b):
                codes[b.lower()] = a.zfill(4)
            elif _CODE.match(b) and not _CODE.match(a):
                codes[a.lower()] = b.zfill(4)
        if not subjects:
            issues.append(f"{self.sheet_path.name}: no participant -> folder pairs in sheet 2 (naming rule1)")
        if not codes:
            issues.append(f"{self.sheet_path.name}: no video name -> code pairs in sheet 3 (naming rule2)")
        return subjects, codes

    def _folder(self, subject: str, code: str) -> tuple[Path | None, str]:
        """The one folder ``rawpic/<subject>/<number>_<code>*``, or ``None`` and why not."""
        top = self.data_root / subject
        pattern = f"{subject[1:]}_{code}*"
        hits = [p for p in sorted(top.glob(pattern)) if p.is_dir()] if top.is_dir() else []
        if len(hits) == 1:
            return hits[0], ""
        if not hits:
            return None, f"no folder {top / pattern}"
        return None, f"{len(hits)} folders match {top / pattern} ({', '.join(p.name for p in hits)}): which one is ambiguous"

    @functools.cached_property
    def _table(self) -> tuple[list[LongVideo], list[str]]:
        issues: list[str] = []
        subjects, codes = self._naming(issues)
        df = read_excel(self.sheet_path, 0, header=None)  # type: ignore[arg-type]
        rows: dict[tuple[str, str], list[tuple[Interval, str]]] = {}
        for i, row in enumerate(df.itertuples(index=False)):
            cells = list(row) + [None] * 9
            if all(is_blank(v) for v in cells):
                continue
            where = f"{self.sheet_path.name} row {i + 1}"
            participant, name = cell_int(cells[0]), cell_text(cells[1])
            onset, apex, offset = cell_int(cells[2]), cell_int(cells[3]), cell_int(cells[4])
            kind_text = cell_text(cells[7]).lower()
            if participant is None or onset is None:
                issues.append(f"{where}: no participant number or onset; row skipped (a header row?)")
                continue
            kind = "micro" if kind_text.startswith("micro") else "macro" if kind_text.startswith("macro") else None
            if kind is None:
                issues.append(f"{where}: expression type {cells[7]!r} is neither micro- nor macro-expression; row skipped")
                continue
            video_name = name.rsplit("_", 1)[0].lower()
            subject, code = subjects.get(participant), codes.get(video_name)
            if subject is None or code is None:
                missing = f"participant {participant}" if subject is None else f"video name {video_name!r}"
                issues.append(f"{where}: {missing} is not in the naming-rule sheets; row skipped")
                continue
            if offset in (None, 0):
                issues.append(f"{where}: offset not annotated (0); the apex {apex} ends the interval")
                offset = apex
            if offset is None:
                issues.append(f"{where}: neither offset nor apex; row skipped")
                continue
            iv = Interval(onset, apex if apex else -1, offset, kind, 1.0, cell_text(cells[6]))
            rows.setdefault((subject, code), []).append((iv, where))
        videos: list[LongVideo] = []
        for (subject, code), items in rows.items():
            folder, why = self._folder(subject, code)
            where = items[0][1]
            if folder is None:
                videos.append(LongVideo(self.name, subject, f"{subject[1:]}_{code}", self.data_root / subject, self.fps,
                                        "frames", tuple(iv for iv, _ in items), 0, self.root, where, f"{why} ({where})"))
                continue
            try:
                first = first_frame_number(folder)
            except MestiError as exc:  # a folder without frames, or holding a file that is no image
                videos.append(LongVideo(self.name, subject, folder.name, folder, self.fps, "frames",
                                        tuple(iv for iv, _ in items), 0, self.root, where, f"{exc.where}: {exc.what}"))
                continue
            shifted = [(Interval(iv.onset - first, iv.apex - first if iv.apex > 0 else -1, iv.offset - first, iv.kind,
                                 iv.score, iv.label), w) for iv, w in items]
            n = frame_count(folder, "frames")
            kept, more = settle_intervals(shifted, n, folder.name, strict=False)
            issues += more
            videos.append(LongVideo(self.name, subject, folder.name, folder, self.fps, "frames", tuple(kept), n,
                                    self.root, where))
        return videos, issues
