"""CAS(ME)^3 part A as distributed: the micro-expression sheet, colour and 16-bit depth frames,
the authors' exception lists, and the long videos for spotting.

Layout (docs/datasets.md, CAS(ME)^3)::

    <frames>/spNO.1/a/color/355.jpg     colour, 30 fps; <N> is the sheets' number
    <frames>/spNO.1/a/depth/355.png     16-bit depth (read unchanged), sometimes absent
    <root>[/annotation]/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx   sheet 'label'
    <root>[/annotation]/CAS(ME)3_part_A_v2.xls                      sheets 'AU+Emotion', 'eye blink'
    <root>[/annotation]/casme3_partA_error_list_ZhouJu.xlsx, error_info_damaged_image_partA.txt,
                        image_with_bad_quality_partA.txt

``<frames>`` is the folder holding the ``spNO.<n>`` subject folders: the root or a folder
up to four levels below it (releases nest it, e.g. ``data/part_A_split/part_A``). Every
quirk of the micro-expression sheet is settled in :meth:`CASME3._clip_table` and nowhere
else, and reported in ``issues`` and in the clip's ``notes``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mesti.datasets.base import ClipRecord, OutsideRootError
from mesti.datasets.casme3_lists import ErrorEntry, FrameKey, read_bad_quality, read_damaged, read_error_list
from mesti.datasets.casme3_long import (
    MAX_SPAN_SECONDS,
    SheetInterval,
    long_videos,
    read_blink_sheet,
    read_long_sheet,
)
from mesti.datasets.layout import existing_folder, extra_folders
from mesti.datasets.long import CLASS_NAMES as LONG_CLASSES
from mesti.datasets.long import LongVideo, interval_records, parse_fps
from mesti.datasets.megc import MEGC_CLASSES
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import SheetRow, cell_int, cell_text, check_classes, check_options, is_blank, read_excel, require_columns
from mesti.errors import MestiError

#: The seven emotions of the sheet (index order = label index).
CLASSES_7: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "sad", "surprise", "others")
#: Four classes: negative (disgust, fear, anger, sad), positive (happy), surprise, others.
CLASSES_4: tuple[str, ...] = ("negative", "positive", "surprise", "others")
FOUR_CLASS: dict[str, str] = {"anger": "negative", "disgust": "negative", "fear": "negative", "sad": "negative",
                              "happy": "positive", "surprise": "surprise", "others": "others"}

SHEET_NAME = "label"
COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "Emotion")
REQUIRED_COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "Emotion")
FRAME_PATTERN = "{n}.jpg"
DEPTH_PATTERN = "{n}.png"
VIEWS = ("clips", "long")

_GLOBS = {
    "sheet": ("*part_A_ME_label*.xls*",),
    "long_sheet": ("*part_A_v*.xls*",),
    "error_list": ("*error_list*.xlsx",),
    "damaged": ("*damaged_image*.txt",),
    "bad_quality": ("*bad_quality*.txt",),
}
_WHAT = {
    "sheet": "the CAS(ME)^3 part A micro-expression sheet (cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx)",
    "long_sheet": "the CAS(ME)^3 part A all-expression sheet (CAS(ME)3_part_A_v2.xls)",
    "error_list": "the CAS(ME)^3 error list (casme3_partA_error_list_ZhouJu.xlsx)",
    "damaged": "the CAS(ME)^3 damaged-image list (error_info_damaged_image_partA.txt)",
    "bad_quality": "the CAS(ME)^3 bad-quality image list (image_with_bad_quality_partA.txt)",
}


@dataclass(frozen=True)
class Casme3Files:
    """CAS(ME)^3's annotation files where they are not in the usual folders (``--sheet``,
    ``--opt long_sheet=PATH`` and so on); ``None`` looks for the file (see :class:`CASME3`)."""

    sheet: str | Path | None = None
    long_sheet: str | Path | None = None
    error_list: str | Path | None = None
    damaged: str | Path | None = None
    bad_quality: str | Path | None = None


_SUBJECT = re.compile(r"^spNO\.\d+$", re.IGNORECASE)
_TASK = re.compile(r"^[a-m]$")
_SEARCH_DEPTH = 4
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def label_for(emotion: str, classes: int) -> str | None:
    """The class of a sheet emotion (lower case) under 7, 4 or 3 classes, or ``None`` outside it."""
    if classes == 7:
        return emotion if emotion in CLASSES_7 else None
    four = FOUR_CLASS.get(emotion)
    return four if classes == 4 or four != "others" else None


def _flag(value: Any, name: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise MestiError(name, f"{value!r} is not yes or no")


def subjects_folder(root: Path) -> Path:
    """The folder holding the ``spNO.<n>`` subject folders: ``root`` or one up to four levels below."""
    level = [root]
    for _ in range(_SEARCH_DEPTH + 1):
        found = [d for d in level if any(_SUBJECT.match(c.name) for c in _subdirs(d))]
        if len(found) > 1:
            raise MestiError(root, f"several folders hold spNO.<n> subject folders ({', '.join(map(str, found[:3]))}); "
                                   "point --root at one")
        if found:
            return found[0]
        level = [c for d in level for c in _subdirs(d)][:5000]
    raise MestiError(root, f"no spNO.<n> subject folder here or up to {_SEARCH_DEPTH} levels below "
                           "(expected <Subject>/<Filename>/color/<N>.jpg)")


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(c for c in folder.iterdir() if c.is_dir() and not c.name.startswith("."))
    except OSError:
        return []


@register_dataset("casme3")
class CASME3:
    """CAS(ME)^3 part A: 860 micro-expressions of 94 subjects, colour + depth at 30 fps; 4, 7 or 3 classes; long videos for spotting.

    ``CASME3(root, sheet=None, classes=4, fps=30, view='clips', blink_videos=False,
    files=None, long_sheet=None, error_list=None, damaged=None, bad_quality=None)`` (the
    four lists by keyword or together as :class:`Casme3Files`). ``root`` holds the
    ``spNO.<n>`` folders (or a folder up to four levels above them); the sheets and lists
    are found in ``root``, ``root/annotation(s)`` or beside ``sheet`` unless given.
    ``classes``: 4 -> negative, positive, surprise, others; 7 -> the sheet's emotions;
    3 -> negative, positive, surprise (others left out). ``records()`` gives the
    micro-expression clips (``view='long'``: one clip per interval of the long videos,
    classes micro/macro); ``videos()`` the long videos with their truth and labelled blinks.
    """

    name = "casme3"

    def __init__(
        self, root: str | Path, sheet: str | Path | None = None, classes: int = 4, fps: float | str = 30.0,
        view: str = "clips", blink_videos: bool | str = False, files: Casme3Files | None = None, **extra: Any,
    ) -> None:
        # long_sheet, error_list, damaged, bad_quality: given by name (--opt KEY=PATH) or in ``files``
        named = {key: extra.pop(key) for key in _GLOBS if key != "sheet" and key in extra}
        check_options(self.name, extra, "sheet, classes, long_sheet, error_list, damaged, bad_quality, fps, view, blink_videos")
        files = replace(files or Casme3Files(), **named, **({"sheet": sheet} if sheet is not None else {}))
        if view not in VIEWS:
            raise MestiError("view", f"{view!r} is not a CAS(ME)^3 view; choose clips (micro-expression clips) or long (long videos)")
        self.view = view
        self.classes = 2 if view == "long" and classes in (2, 4) else check_classes(self.name, int(classes), (4, 7, 3))
        if view == "long" and self.classes != 2:
            raise MestiError("--classes", f"the long view of {self.name} has 2 classes (micro, macro), not {classes}")
        self.fps = parse_fps(fps)
        self.blink_videos = _flag(blink_videos, "blink_videos")
        self.root = existing_folder(root, "the CAS(ME)^3 part A folder (holding the spNO.<n> folders)")
        self.data_root = subjects_folder(self.root)
        given = asdict(files)
        self.paths: dict[str, Path | None] = {}
        for key in _GLOBS:  # the micro-expression sheet first: the others are also looked for beside it
            self.paths[key] = self._find(key, given[key])
        # The sheet a message about the whole long view names (spot-eval: "no video could be matched").
        self.sheet_path = self.paths["long_sheet"] or self.paths["sheet"] or self.root

    # -- files ----------------------------------------------------------------------------

    def _find(self, key: str, given: str | Path | None) -> Path | None:
        """A file given as an option (it must exist), else the one match in the usual folders, else ``None``."""
        if given is not None:
            path = Path(given)
            if not path.is_file():
                raise MestiError(path, f"no such file (expected {_WHAT[key]})")
            return path
        folders = [self.paths["sheet"].parent] if self.paths.get("sheet") else []
        folders += [self.root, self.root / "annotation", self.root / "annotations"]
        hits: list[Path] = []
        for folder in dict.fromkeys(folders):
            for pattern in _GLOBS[key]:
                hits += [p for p in sorted(folder.glob(pattern)) if not p.name.startswith("~$") and p not in hits]
        if len(hits) > 1:
            option = "--sheet" if key == "sheet" else f"--opt {key}=PATH"
            raise MestiError(option, f"several candidates for {_WHAT[key]} ({', '.join(map(str, hits))}); give one with {option}")
        return hits[0] if hits else None

    def _need(self, key: str) -> Path:
        path = self.paths[key]
        if path is None:
            option = "--sheet" if key == "sheet" else f"--opt {key}=PATH"
            raise MestiError(option, f"{_WHAT[key]} is not in {self.root} or {self.root / 'annotation'}; give it with {option}")
        return path

    @functools.cached_property
    def _lists(self) -> tuple[dict[tuple[str, str, int], ErrorEntry], dict[FrameKey, str], set[FrameKey], list[str]]:
        """The three exception lists (empty where absent, reported)."""
        issues: list[str] = []
        errors, damaged, bad = {}, {}, set()
        if self.paths["error_list"]:
            errors, more = read_error_list(self.paths["error_list"])
            issues += more
        else:
            issues.append("no error list (casme3_partA_error_list*.xlsx) found: the clips the authors list as errors "
                          "(apex occluded) are not dropped; give it with --opt error_list=PATH")
        if self.paths["damaged"]:
            damaged, more = read_damaged(self.paths["damaged"])
            issues += more
        else:
            issues.append("no damaged-image list (error_info_damaged_image*.txt) found: clips are not checked against it")
        if self.paths["bad_quality"]:
            bad, more = read_bad_quality(self.paths["bad_quality"])
            issues += more
        else:
            issues.append("no bad-quality image list (image_with_bad_quality*.txt) found: clips are not checked against it")
        return errors, damaged, bad, issues

    @functools.cached_property
    def _long_rows(self) -> tuple[list[SheetInterval], list[SheetInterval], list[str]] | None:
        """``AU+Emotion`` and ``eye blink`` rows, or ``None`` without the all-expression sheet."""
        path = self.paths["long_sheet"]
        if path is None:
            return None
        rows, issues = read_long_sheet(path)
        blinks, more = read_blink_sheet(path)
        return rows, blinks, issues + more

    # -- the micro-expression sheet, read once ------------------------------------------

    def _read_sheet(self) -> pd.DataFrame:
        path = self._need("sheet")
        df = read_excel(path, SHEET_NAME, header=0)
        by_lower = {c.lower(): c for c in COLUMNS}
        df.columns = [by_lower.get(c.lower(), c) for c in df.columns]  # the release writes 'emotion'
        require_columns(df, REQUIRED_COLUMNS, path, "the CAS(ME)^3 part A micro-expression sheet")
        return df

    def _long_fix(self, subject: str, filename: str, onset: int, apex: int | None) -> SheetInterval | None:
        """The all-expression sheet's consistent micro row for the same video and onset (or apex)."""
        if self._long_rows is None:
            return None
        for r in self._long_rows[0]:
            if (r.kind == "micro" and (r.subject, r.filename) == (subject, filename) and (r.onset == onset or r.apex == apex)
                    and r.apex is not None and r.onset <= r.apex <= r.offset and r.onset < r.offset):
                return r
        return None

    @functools.cached_property
    def _clip_table(self) -> tuple[list[SheetRow], list[str], int]:
        """Usable rows, the quirks met, and the number of rows read (the one place they are settled)."""
        df = self._read_sheet()
        name = self._need("sheet").name
        errors = self._lists[0]
        rows: list[SheetRow] = []
        issues: list[str] = []
        seen: dict[tuple[str, str, int], int] = {}
        read = 0
        for i, rec in enumerate(df.to_dict("records")):
            if all(is_blank(v) for v in rec.values()):
                continue
            read += 1
            sheet_row = i + 2
            subject, filename = cell_text(rec["Subject"]), cell_text(rec["Filename"])
            onset, apex, offset = cell_int(rec["Onset"]), cell_int(rec["Apex"]), cell_int(rec["Offset"])
            where = f"{name} row {sheet_row} ({subject} {filename} onset {cell_text(rec['Onset'])})"
            if not subject or not filename:
                issues.append(f"{where}: no Subject or Filename; row skipped")
                continue
            if onset is None or offset is None:
                issues.append(f"{where}: Onset {rec['Onset']!r} / Offset {rec['Offset']!r} is not a frame number; row skipped")
                continue
            notes: list[str] = []
            if not _SUBJECT.match(subject):
                notes.append(f"Subject {subject!r} is not spNO.<n>; its folder is looked up as written")
            if not _TASK.match(filename):
                what = "upper case (the other videos of task j are 'j')" if _TASK.match(filename.lower()) else "not a task letter a-m"
                notes.append(f"Filename {filename!r} is {what}; its folder is looked up as written, then as {filename.swapcase()!r}")
            key = (subject, filename, onset)
            if key in seen:
                issues.append(f"{where}: the same Subject, Filename and Onset as row {seen[key]} ((Subject, Filename, Onset) "
                              "is the key); row skipped")
                continue
            seen[key] = sheet_row
            err = errors.get(key)
            if err is not None and err.shift is None:
                issues.append(f"{where}: in the authors' error list ({err.where}: {err.problem!r}, fix {err.fix!r}); dropped")
                continue
            if err is not None and err.shift is not None:
                notes.append(f"in the authors' error list ({err.where}: {err.problem!r}); their fix {err.fix!r} applied: "
                             f"onset and apex + {err.shift}")
                onset += err.shift
                apex = None if apex is None else apex + err.shift
            if offset <= onset or apex is None or not onset <= apex <= offset:
                fix = self._long_fix(subject, filename, onset, apex)
                if fix is not None:
                    notes.append(f"Onset/Apex/Offset {onset}/{apex}/{offset} are inconsistent; {fix.where} gives "
                                 f"{fix.onset}/{fix.apex}/{fix.offset}: used")
                    onset, apex, offset = fix.onset, fix.apex, fix.offset
            if offset <= onset:
                issues.append(f"{where}: Offset {offset} is not after Onset {onset}"
                              + (" and the all-expression sheet does not settle it" if self._long_rows else "") + "; row skipped")
                continue
            middle = onset + (offset - onset) // 2
            if apex is None or not onset <= apex <= offset:
                notes.append(f"Apex {rec['Apex']!r} is outside Onset..Offset {onset}..{offset}; apex taken as the middle frame {middle}")
                apex = middle
            span = offset - onset + 1
            if span > MAX_SPAN_SECONDS * self.fps:
                issues.append(f"{where}: a span of {span} frames ({span / self.fps:.0f} s) is no micro-expression; "
                              "row skipped (its frames would fill gigabytes)")
                continue
            raw = cell_text(rec["Emotion"])
            emotion = raw.lower()
            if raw != emotion:
                notes.append(f"emotion {raw!r} read as {emotion!r}")
            if emotion not in CLASSES_7:
                notes.append(f"unknown emotion {raw!r}; the clip has no class")
            issues.extend(f"{where}: {n}" for n in notes)
            rows.append(SheetRow(sheet_row, subject, filename, onset, apex, offset, emotion, cell_text(rec.get("AU")), tuple(notes)))
        several = {k: n for k, n in Counter((s, f) for s, f, _ in seen).items() if n > 1}
        if several:
            (top, most), = Counter(several).most_common(1)
            issues.append(f"{name}: {len(several)} videos hold several micro-expressions (up to {most}, {top[0]} {top[1]}): "
                          "(Subject, Filename) is not a key, (Subject, Filename, Onset) is; a clip is named <Filename>_<Onset>")
        return rows, issues, read

    # -- frames -----------------------------------------------------------------------------

    @functools.cache  # noqa: B019 (one adapter, a few hundred folders)
    def _folder(self, subject: str, filename: str) -> tuple[Path, str | None]:
        """The colour folder of a video, looked up as written, then with the other letter case."""
        base = self.data_root / subject
        if (base / filename).is_dir() or not (base / filename.swapcase()).is_dir():
            return base / filename / "color", None
        return base / filename.swapcase() / "color", f"no folder {base / filename}; {filename.swapcase()}/ used (the same task)"

    @functools.cached_property
    def _located(self) -> tuple[list[tuple[SheetRow, Path, tuple[str, ...]]], list[str]]:
        """Each clip's colour folder and frame notes; clips with a damaged frame are dropped."""
        _, damaged, bad, _ = self._lists
        out: list[tuple[SheetRow, Path, tuple[str, ...]]] = []
        issues: list[str] = []
        no_depth: list[str] = []
        for r in self._clip_table[0]:
            folder, note = self._folder(r.subject, r.filename)
            where = f"{r.subject} {r.filename} onset {r.onset}"
            notes = list(r.notes) + ([note] if note else [])
            if note:
                issues.append(f"{r.subject} {r.filename}: {note}")  # the long view says the same: listed once
            numbers = range(r.onset, r.offset + 1)
            broken = [n for n in numbers if (r.subject, r.filename.lower(), n) in damaged]
            if broken:
                issues.append(f"{where}: frame(s) {', '.join(map(str, broken[:3]))} are in the damaged-image list "
                              f"({damaged[(r.subject, r.filename.lower(), broken[0])]}); dropped")
                continue
            poor = [n for n in numbers if (r.subject, r.filename.lower(), n) in bad]
            if poor:
                line = f"{len(poor)} frame(s) in the bad-quality list (e.g. {poor[0]}.jpg); kept"
                notes.append(line)
                issues.append(f"{where}: {line}")
            if folder.is_dir() and not (folder.parent / "depth").is_dir():
                no_depth.append(where)
            out.append((r, folder, tuple(notes)))
        if no_depth:
            issues.append(f"{len(no_depth)} clip(s) have colour frames but no depth/ folder (the release lacks some), "
                          f"e.g. {', '.join(no_depth[:3])}; they have colour only")
        return out, issues

    def depth_dir(self, record: ClipRecord) -> Path:
        """Where a clip's 16-bit depth frames are (``depth/`` beside ``color/``)."""
        return record.frame_dir.parent / "depth"

    def load_depth(self, record: ClipRecord) -> np.ndarray | None:
        """The clip's depth frames onset..offset as a ``T x H x W`` uint16 array, read unchanged;
        ``None`` when the video has no ``depth/`` folder (some have none)."""
        import cv2

        folder = self.depth_dir(record)
        if not folder.is_dir():
            return None
        paths = replace(record, frame_dir=folder, frame_pattern=DEPTH_PATTERN).frame_paths()  # the root guard too
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise MestiError(record.key, f"missing depth frame(s) in {folder}: {', '.join(missing[:3])}")
        frames = []
        for p in paths:
            image = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise MestiError(p, "cannot be read as a depth image")
            if image.dtype != np.uint16 or image.ndim != 2:
                raise MestiError(p, f"not a 16-bit one-channel depth image ({image.dtype}, shape {image.shape})")
            if frames and image.shape != frames[0].shape:
                raise MestiError(p, f"depth frame is {image.shape[1]}x{image.shape[0]}, others {frames[0].shape[1]}x{frames[0].shape[0]}")
            frames.append(image)
        return np.stack(frames)

    # -- the long view ------------------------------------------------------------------------

    @functools.cached_property
    def _long_table(self) -> tuple[list[LongVideo], list[str]]:
        self._need("long_sheet")
        assert self._long_rows is not None
        rows, blinks, issues = self._long_rows
        labels: dict[tuple[str, str, int], str] = {}
        if self.paths["sheet"] is not None:
            labels = {(r.subject, r.filename, r.onset): r.emotion for r in self._clip_table[0]}
        videos, more = long_videos(self.name, self.root, self.fps, rows, blinks, self._folder, labels, self._lists[1],
                                   self.blink_videos)
        return videos, issues + more

    def videos(self) -> list[LongVideo]:
        """Every video of the all-expression sheet that exists: its whole colour sequence, the
        sheet's micro- and macro-expressions (0-based frames) and its labelled blinks."""
        return list(self._long_table[0])

    # -- the adapter contract -------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        if self.view == "long":
            return list(LONG_CLASSES)
        return list({4: CLASSES_4, 7: CLASSES_7, 3: MEGC_CLASSES}[self.classes])

    @property
    def issues(self) -> list[str]:
        """Quirks of every part present (micro-expression sheet, exception lists, long view), one line each."""
        out = list(self._lists[3])
        if self.paths["sheet"] is not None:
            out += self._clip_table[1] + self._located[1]
        else:
            out.append(f"{_WHAT['sheet']} not found: no micro-expression clips, and micro intervals of the long view have no emotion")
        if self.paths["long_sheet"] is not None:
            try:
                out += self._long_table[1]
            except OutsideRootError as exc:  # videos() refuses it; a check lists it and goes on
                out.append(f"long view refused: {exc.where}: {exc.what}")
        else:
            out.append(f"{_WHAT['long_sheet']} not found: no long view for spotting, and inconsistent rows are not settled from it")
        return list(dict.fromkeys(out))

    def records(self) -> list[ClipRecord]:
        """The micro-expression clips in sheet order (``label`` ``None`` outside the class set);
        with ``view='long'``, one clip per expression of the long videos."""
        if self.view == "long":
            return interval_records(self.videos())
        return [
            ClipRecord(dataset=self.name, subject=r.subject, clip_id=f"{r.filename}_{r.onset}", emotion=r.emotion,
                       label=label_for(r.emotion, self.classes), frame_dir=folder, onset_frame=r.onset, apex_frame=r.apex,
                       offset_frame=r.offset, frame_pattern=FRAME_PATTERN, fps=self.fps, action_units=r.action_units,
                       notes=notes, root=self.root)
            for r, folder, notes in self._located[0]
        ]

    def extra_folders(self) -> list[Path]:
        """Video folders under the subject folders that neither sheet names."""
        wanted = {folder.parent for _, folder, _ in self._located[0]} if self.paths["sheet"] is not None else set()
        if self._long_rows is not None:
            wanted |= {self._folder(r.subject, r.filename)[0].parent for r in self._long_rows[0]}
        return extra_folders(self.data_root, wanted) if wanted else []
