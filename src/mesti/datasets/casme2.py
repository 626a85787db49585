"""CASME II as distributed: the 2014-05-08 coding sheet and the raw or cropped frame folders.

Layouts (docs/datasets.md, CASME II)::

    <root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg      raw release, 640x480
    <root>/Cropped/sub01/EP02_01f/reg_img46.jpg               cropped release
    <root>/sub01/EP02_01f/img46.jpg                           root = a release folder itself
                                                              (also what ``mesti synth`` writes)

Frame numbers in file names are the sheet's numbers (not zero padded). Every quirk of the
sheet is handled in :meth:`CASME2._table` and nowhere else, and each one is reported in
``issues`` and in the clip's ``notes``.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from mesti.datasets.base import ClipRecord
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import SheetRow, cell_text, read_excel, require_columns
from mesti.errors import MestiError

#: Release folder name -> frame file pattern.
RELEASES: dict[str, tuple[str, str]] = {
    "raw": ("CASME2_RAW_selected", "img{n}.jpg"),
    "cropped": ("Cropped", "reg_img{n}.jpg"),
}

#: 5-class set of the paper and most of the field (index order = label index).
CLASSES_5: tuple[str, ...] = ("happiness", "disgust", "repression", "surprise", "others")
#: 3-class MEGC 2019 set, in the composite list's label order (0 negative, 1 positive, 2 surprise).
CLASSES_3: tuple[str, ...] = ("negative", "positive", "surprise")
#: MEGC 2019 mapping of CASME II emotions; others, sadness and fear are outside the 3 classes.
MEGC2019_3CLASS: dict[str, str] = {
    "disgust": "negative",
    "repression": "negative",
    "happiness": "positive",
    "surprise": "surprise",
}
#: Every emotion word the 2014-05-08 sheet uses.
KNOWN_EMOTIONS = frozenset({"happiness", "disgust", "repression", "surprise", "others", "sadness", "fear"})

REQUIRED_COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Estimated Emotion")
_SHEET_GLOBS = ("CASME2-coding-*.xlsx", "coding.xlsx")
_REGULAR_FILENAME = re.compile(r"^EP\d{2}_\d{2}f?$")
_SUBJECT = re.compile(r"^(?:sub)?0*(\d+)$", re.IGNORECASE)


def label_for(emotion: str, classes: int) -> str | None:
    """The class of a CASME II emotion under ``classes`` (3 or 5), or ``None`` when outside it."""
    if classes == 5:
        return emotion if emotion in CLASSES_5 else None
    if classes == 3:
        return MEGC2019_3CLASS.get(emotion)
    raise MestiError("classes", f"CASME II has 5-class and 3-class protocols, not {classes}")


def subject_folder(value: Any) -> str | None:
    """Sheet subject (``1``, ``'01'``, ``'sub01'``) -> folder name ``'sub01'``; ``None`` if unreadable."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    m = _SUBJECT.match(str(value).strip())
    return f"sub{int(m.group(1)):02d}" if m else None


def _frame_number(value: Any) -> int | None:
    """A sheet cell as a frame number, or ``None`` when it is not a whole number ('/', blank)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or not value.is_integer()):
            return None
        return int(value)
    text = str(value).strip()
    return int(text) if text.isdigit() else None


@register_dataset("casme2")
class CASME2:
    """CASME II: 255 clips of 26 subjects at 200 fps, raw or cropped release (also mesti synth sets).

    ``CASME2(root, sheet=None, classes=5, release=None)``. ``root`` is the folder holding
    ``CASME2_RAW_selected/`` or ``Cropped/``, or one of those folders itself (``subNN``
    folders directly inside). ``sheet`` defaults to a ``CASME2-coding-*.xlsx`` or
    ``coding.xlsx`` inside ``root``. ``release`` ('raw' or 'cropped') picks one release when
    ``root`` holds both (default: raw, reported).
    ``classes``: 5 -> happiness, disgust, repression, surprise, others; 3 -> negative,
    positive, surprise (MEGC 2019). Clips outside the class set get ``label=None``.
    """

    name = "casme2"
    fps = 200.0

    def __init__(
        self,
        root: str | Path,
        sheet: str | Path | None = None,
        classes: int = 5,
        release: str | None = None,
        **extra: Any,
    ) -> None:
        if extra:
            raise MestiError("casme2", f"unknown option(s) {', '.join(sorted(extra))}; it takes sheet, classes, release")
        if classes not in (3, 5):
            raise MestiError("classes", f"CASME II has 5-class and 3-class protocols, not {classes}")
        if release is not None and release not in RELEASES:
            raise MestiError("release", f"unknown CASME II release {release!r}; choose 'raw' or 'cropped'")
        self.root = Path(root)
        if not self.root.is_dir():
            raise MestiError(self.root, "no such folder (expected the CASME II folder or its CASME2_RAW_selected/ or Cropped/)")
        self.classes = classes
        self._layout_issues: list[str] = []
        self.frames_root, self.frame_pattern = self._find_frames(release)
        self.sheet_path = Path(sheet) if sheet is not None else self._find_sheet()
        if not self.sheet_path.is_file():
            raise MestiError(self.sheet_path, "no such coding sheet")

    # -- layout ---------------------------------------------------------------------------

    def _find_frames(self, release: str | None) -> tuple[Path, str]:
        """The folder holding ``subNN/`` and the frame file pattern of its release."""
        found = {k: self.root / folder for k, (folder, _) in RELEASES.items() if (self.root / folder).is_dir()}
        if release is not None:
            # An explicit release: its folder under root, else root is that folder itself.
            return found.get(release, self.root), RELEASES[release][1]
        if len(found) == 2:
            self._layout_issues.append(
                f"{self.root}: both CASME2_RAW_selected/ and Cropped/ are present; using the raw release "
                "(pass release='cropped' for the other)"
            )
            return found["raw"], RELEASES["raw"][1]
        if found:
            ((kind, folder),) = found.items()
            return folder, RELEASES[kind][1]
        return self.root, RELEASES[self._sniff_release(self.root)][1]

    @staticmethod
    def _sniff_release(folder: Path) -> str:
        """Which release a folder of ``subNN/`` is, by its name or its first frame file's name."""
        for kind, (name, _) in RELEASES.items():
            if folder.name == name:
                return kind
        for sub in sorted(p for p in folder.glob("sub*") if p.is_dir()):
            for clip in sorted(p for p in sub.iterdir() if p.is_dir()):
                for f in clip.iterdir():
                    if f.suffix.lower() == ".jpg":
                        return "cropped" if f.name.startswith("reg_") else "raw"
        return "raw"

    def _find_sheet(self) -> Path:
        for pattern in _SHEET_GLOBS:
            hits = sorted(p for p in self.root.glob(pattern) if not p.name.startswith("~$"))
            if len(hits) > 1:
                raise MestiError(self.root, f"several coding sheets ({', '.join(p.name for p in hits)}); pass sheet= to pick one")
            if hits:
                return hits[0]
        raise MestiError(
            self.root,
            "no CASME II coding sheet (CASME2-coding-*.xlsx or coding.xlsx) in this folder; pass sheet=PATH",
        )

    # -- the sheet, read once -------------------------------------------------------------

    @functools.cached_property
    def _table(self) -> tuple[list[SheetRow], list[str]]:
        """Every usable row of the sheet and the list of quirks met (the one place they are fixed)."""
        df = self._read_sheet()
        rows: list[SheetRow] = []
        issues = list(self._layout_issues)
        seen: dict[tuple[str, str], int] = {}
        for i, rec in enumerate(df.to_dict("records")):
            sheet_row = i + 2  # Excel row: 1 is the header.
            if all(v is None or (isinstance(v, float) and math.isnan(v)) for v in rec.values()):
                continue  # trailing blank rows of a spreadsheet
            where = f"{self.sheet_path.name} row {sheet_row}"
            subject = subject_folder(rec["Subject"])
            filename = str(rec["Filename"]).strip() if isinstance(rec["Filename"], str) else ""
            if subject is None or not filename:
                issues.append(f"{where}: unreadable Subject {rec['Subject']!r} or Filename {rec['Filename']!r}; row skipped")
                continue
            where = f"{where} ({subject}/{filename})"
            notes: list[str] = []
            if not _REGULAR_FILENAME.match(filename):
                notes.append(f"irregular filename {filename!r} (not EPnn_nn[f]); its folder is looked up as written")
            onset, offset = _frame_number(rec["OnsetFrame"]), _frame_number(rec["OffsetFrame"])
            if onset is None or offset is None:
                issues.append(f"{where}: OnsetFrame {rec['OnsetFrame']!r} / OffsetFrame {rec['OffsetFrame']!r} "
                              "is not a frame number; row skipped")
                continue
            if offset <= onset:
                issues.append(f"{where}: OffsetFrame {offset} is not after OnsetFrame {onset}; row skipped")
                continue
            middle = onset + (offset - onset) // 2
            apex = _frame_number(rec["ApexFrame"])
            if apex is None:
                # sub04 EP12_01f has ApexFrame '/': the coders marked no apex.
                notes.append(f"ApexFrame {rec['ApexFrame']!r} is not a frame number; apex taken as the middle frame {middle}")
                apex = middle
            elif not onset <= apex <= offset:
                notes.append(f"ApexFrame {apex} is outside OnsetFrame..OffsetFrame {onset}..{offset}; "
                             f"apex taken as the middle frame {middle}")
                apex = middle
            raw_emotion = rec["Estimated Emotion"]
            emotion = raw_emotion.strip().lower() if isinstance(raw_emotion, str) else ""
            if emotion not in KNOWN_EMOTIONS:
                notes.append(f"unknown Estimated Emotion {raw_emotion!r}; the clip has no class")
            key = (subject, filename)
            if key in seen:
                notes.append(f"the same Subject and Filename as row {seen[key]}")
            seen.setdefault(key, sheet_row)
            issues.extend(f"{where}: {n}" for n in notes)
            rows.append(SheetRow(sheet_row, subject, filename, onset, apex, offset, emotion,
                             cell_text(rec.get("Action Units")), tuple(notes)))
        return rows, issues

    def _read_sheet(self) -> pd.DataFrame:
        if self.sheet_path.suffix.lower() == ".csv":
            try:
                df = pd.read_csv(self.sheet_path)
            except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
                raise MestiError(self.sheet_path, "not a readable CSV sheet (damaged, or another format under "
                                                  "this name)") from None
            df.columns = [str(c).strip() for c in df.columns]
            df = df.astype(object).where(df.notna(), None)
        else:
            df = read_excel(self.sheet_path, 0, 0)
        require_columns(df, REQUIRED_COLUMNS, self.sheet_path, "a CASME II coding sheet")
        return df

    # -- the adapter contract -------------------------------------------------------------

    @property
    def class_names(self) -> list[str]:
        """Classes in label-index order (see :data:`CLASSES_5`, :data:`CLASSES_3`)."""
        return list(CLASSES_5 if self.classes == 5 else CLASSES_3)

    @property
    def issues(self) -> list[str]:
        """Sheet and layout quirks handled, one line each."""
        return list(self._table[1])

    def records(self) -> list[ClipRecord]:
        """Every usable clip of the sheet, in sheet order; ``label`` is ``None`` outside the class set."""
        return [
            r.clip_record(self.name, label_for(r.emotion, self.classes), self.frames_root / r.subject / r.filename,
                          self.frame_pattern, self.fps, root=self.root)
            for r in self._table[0]
        ]
