"""SAMM as distributed: the v2 FACS coding sheet and the ``SAMM/<subject>/<clip>/`` frames.

Layout (docs/datasets.md, SAMM)::

    <root>/SAMM/006/006_1_2/006_05562.jpg      {subject}/{filename}/{subject}_{frame:05d}.jpg
    <root>/006/006_1_2/006_05562.jpg           root = the SAMM folder itself

Frames are grayscale 2040x1088 JPEGs at 200 fps (read as three equal channels). Every quirk
of the sheet is settled in :meth:`SAMM._table` and nowhere else, and each one is reported in
``issues`` and in the clip's ``notes``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from mesti.datasets.base import ClipRecord
from mesti.datasets.layout import existing_folder, release_folder
from mesti.datasets.megc import MEGC_CLASSES
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import (
    SheetRow,
    cell_int,
    cell_text,
    check_classes,
    check_options,
    find_sheet,
    is_blank,
    read_excel,
)
from mesti.errors import MestiError

#: 5-class set of the paper and the field (index order = label index).
CLASSES_5: tuple[str, ...] = ("anger", "contempt", "happiness", "surprise", "other")
#: MEGC 2019 mapping: negative = anger, contempt, disgust, fear, sadness; "other" has no class.
MEGC2019_3CLASS: dict[str, str] = {
    "anger": "negative",
    "contempt": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "happiness": "positive",
    "surprise": "surprise",
}
KNOWN_EMOTIONS = frozenset({*CLASSES_5, *MEGC2019_3CLASS})
#: The paper's 5-class SAMM (159 clips): fear, disgust and sadness join "other".
MERGED_INTO_OTHER = frozenset({"fear", "disgust", "sadness"})

SHEET_NAME = "MICRO_ONLY"
#: The v2 sheet has 13 rows of notes (title, symbol key, AU help) above its header row 14.
HEADER_ROW = 13
REQUIRED_COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame", "Estimated Emotion")
_SHEET_GLOBS = ("SAMM_Micro_FACS_Codes*.xlsx",)


def label_for(emotion: str, classes: int, merge_other: bool = False) -> str | None:
    """The class of a SAMM emotion (lower case) under ``classes`` (3 or 5), or ``None`` outside it.

    ``merge_other`` (5 classes): fear, disgust and sadness count as "other", as the paper
    describes its SAMM set (136 + 23 = 159 clips); the field's usual set leaves them out.
    """
    if classes == 5:
        if merge_other and emotion in MERGED_INTO_OTHER:
            return "other"
        return emotion if emotion in CLASSES_5 else None
    return MEGC2019_3CLASS.get(emotion)


@register_dataset("samm")
class SAMM:
    """SAMM: the v2 coding sheet (MICRO_ONLY) and SAMM/<subject>/<clip>/ frames; 5 or 3 classes.

    ``SAMM(root, sheet=None, classes=5)``. ``root`` is the folder holding ``SAMM/`` or
    ``SAMM/`` itself. ``sheet`` defaults to the ``SAMM_Micro_FACS_Codes*.xlsx`` inside
    either. ``classes``: 5 -> anger, contempt, happiness, surprise, other; 3 -> negative,
    positive, surprise (MEGC 2019). Clips outside the class set get ``label=None``.
    ``merge_other=True`` (5 classes only) puts fear, disgust and sadness into "other": the
    paper's 159-clip SAMM.
    """

    name = "samm"
    fps = 200.0

    def __init__(self, root: str | Path, sheet: str | Path | None = None, classes: int = 5,
                 merge_other: bool = False, **extra: Any) -> None:
        check_options("samm", extra, "sheet, classes, merge_other")
        self.classes = check_classes("samm", classes, (5, 3))
        if merge_other and self.classes != 5:
            raise MestiError("samm", "merge_other applies to the 5 classes only (MEGC's 3 classes already map fear, disgust and sadness to negative)")
        self.merge_other = bool(merge_other)
        self.root = existing_folder(root, "the SAMM folder or the folder holding it")
        self.data_root = release_folder(self.root, "SAMM")
        self.sheet_path = find_sheet(sheet, [self.root, self.data_root], _SHEET_GLOBS, "the SAMM coding sheet")

    @functools.cached_property
    def _table(self) -> tuple[list[SheetRow], list[str]]:
        """Every usable row of the sheet and the quirks met (the one place they are fixed)."""
        df = read_excel(self.sheet_path, SHEET_NAME, HEADER_ROW, dtype={"Subject": str})
        if "Subject" not in df.columns:
            what = f"no 'Subject' header on row {HEADER_ROW + 1} of sheet {SHEET_NAME}; is this the SAMM v2 sheet?"
            raise MestiError(self.sheet_path, what)
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if missing:
            raise MestiError(self.sheet_path, f"not the SAMM v2 sheet: missing column(s) {', '.join(missing)}")
        issues = [f"{self.sheet_path.name}: {HEADER_ROW} rows of notes above the header; read from row {HEADER_ROW + 1}"]
        rows: list[SheetRow] = []
        for i, rec in enumerate(df.to_dict("records")):
            sheet_row = HEADER_ROW + 2 + i  # Excel row number: the header is row 14.
            if all(is_blank(v) for v in rec.values()):
                continue  # blank rows left at the end of the worksheet
            where = f"{self.sheet_path.name} row {sheet_row}"
            notes: list[str] = []
            # Subject is text ('006'): a copy re-saved with the column as numbers reads 6,
            # while the folders and file names keep three digits.
            subject = cell_text(rec["Subject"])
            if subject.isdigit() and len(subject) < 3:
                notes.append(f"Subject {subject!r} read as a number; zero-padded to {subject.zfill(3)!r}")
                subject = subject.zfill(3)
            filename = cell_text(rec["Filename"])
            if not subject or not filename:
                issues.append(f"{where}: no Subject or Filename; row skipped")
                continue
            where = f"{where} ({subject}/{filename})"
            onset, offset = cell_int(rec["Onset Frame"]), cell_int(rec["Offset Frame"])
            if onset is None or offset is None or offset <= onset:
                span = f"Onset Frame {rec['Onset Frame']!r}, Offset Frame {rec['Offset Frame']!r}"
                issues.append(f"{where}: {span} is no frame range; row skipped")
                continue
            middle = onset + (offset - onset) // 2
            apex = cell_int(rec["Apex Frame"])
            # Earlier SAMM sheets write -1 (or nothing) where the coders marked no apex; the
            # field's fallback is the middle of onset..offset.
            if apex is None or not onset <= apex <= offset:
                notes.append(f"Apex Frame {rec['Apex Frame']!r} is not within {onset}..{offset}; apex taken as the middle frame {middle}")
                apex = middle
            # Emotions are capitalised ('Anger'); classes are lower case.
            emotion = cell_text(rec["Estimated Emotion"]).lower()
            if emotion not in KNOWN_EMOTIONS:
                notes.append(f"unknown Estimated Emotion {rec['Estimated Emotion']!r}; the clip has no class")
            issues.extend(f"{where}: {n}" for n in notes)
            # Action Units mix numbers (4) and text ('4+7') in one column.
            aus = cell_text(rec.get("Action Units"))
            rows.append(SheetRow(sheet_row, subject, filename, onset, apex, offset, emotion, aus, tuple(notes)))
        return rows, issues

    @property
    def class_names(self) -> list[str]:
        """Classes in label-index order (:data:`CLASSES_5` or the MEGC 3)."""
        return list(CLASSES_5 if self.classes == 5 else MEGC_CLASSES)

    @property
    def issues(self) -> list[str]:
        """Sheet quirks handled, one line each."""
        return list(self._table[1])

    def records(self) -> list[ClipRecord]:
        """Every usable clip of the sheet, in sheet order; ``label`` is ``None`` outside the class set."""
        return [
            r.clip_record(self.name, label_for(r.emotion, self.classes, self.merge_other),
                          self.data_root / r.subject / r.filename, f"{r.subject}_{{n:05d}}.jpg", self.fps, root=self.root)
            for r in self._table[0]
        ]
