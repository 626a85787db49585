"""SMIC-HS as distributed: the ``HS/<subject>/micro/<emotion>/<clip>/`` tree, 100 fps.

Layout (docs/datasets.md, SMIC-HS)::

    <root>/HS/s1/micro/negative/s1_ne_01/image106713.bmp     raw release
    <root>/HS/s1/micro/negative/s1_ne_01/reg_image106713.bmp cropped release (SMIC_all_cropped)
    <root>/s1/micro/...                                      root = the HS folder itself

SMIC-HS ships no coding sheet: the tree is the annotation (label = emotion folder) and a clip
spans its whole folder, the apex being the middle frame (what the paper does). ``non_micro/``
folders (non-micro-expression clips) are part of the release and ignored.

Which clips exist is taken from the 164 SMIC-HS rows of the MEGC 2019 composite list shipped
with the package, so ``mesti data check`` can report a clip missing from a copy. The
``SMIC-HS-E_annotation.xlsx`` sheet is not used: it annotates the long SMIC-E recordings
(frame numbers of the whole recording, onset/offset of up to three sub-intervals), covers
157 of the 164 clips, and SMIC-HS's own clips are already cut to the expression.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from mesti.clips.io import natural_key
from mesti.datasets.base import ClipRecord
from mesti.datasets.layout import existing_folder, extra_folders, release_folder
from mesti.datasets.megc import MEGC_CLASSES, load_megc_list, parse_smic_clip, smic_release_name
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import check_classes, check_options
from mesti.errors import MestiError

#: Emotion folder -> the code in clip names (s1_ne_01, s3_po_11, s2_sur_05).
EMOTION_CODES: dict[str, str] = {"negative": "ne", "positive": "po", "surprise": "sur"}
_EMOTION_OF_CODE = {code: emotion for emotion, code in EMOTION_CODES.items()}
#: Folders of the release that hold no SMIC-HS micro-expression clip.
IGNORED_FOLDERS = frozenset({"non_micro"})
_SUBJECT = re.compile(r"^s0*(\d+)$", re.IGNORECASE)


@register_dataset("smic")
class SMIC:
    """SMIC-HS: the HS/<subject>/micro/<emotion>/<clip>/ tree; 3 classes, apex the middle frame.

    ``SMIC(root, sheet=None, classes=3)``. ``root`` is the folder holding ``HS/`` or ``HS/``
    itself. ``sheet`` may name another clip list in the MEGC composite CSV format (default:
    the shipped list); SMIC has no coding sheet of its own. 3 classes only: negative,
    positive, surprise.
    """

    name = "smic"
    fps = 100.0

    def __init__(self, root: str | Path, sheet: str | Path | None = None, classes: int = 3, **extra: Any) -> None:
        check_options("smic", extra, "sheet, classes")
        self.classes = check_classes("smic", classes, (3,))
        if sheet is not None and Path(sheet).suffix.lower() != ".csv":
            raise MestiError(
                sheet,
                "SMIC-HS has no coding sheet (its tree is the annotation); SMIC-HS-E_annotation.xlsx "
                "annotates the long SMIC-E videos and is not used. Give no --sheet, or a clip list CSV "
                "in the MEGC composite format",
            )
        self.root = existing_folder(root, "the SMIC folder holding HS/, or HS/ itself")
        self.data_root = release_folder(self.root, "HS")
        self.list_path = Path(sheet) if sheet is not None else None

    @functools.cached_property
    def _subject_folders(self) -> dict[int, Path]:
        """Subject folders by number: ``s1`` in the release, ``s01`` in some copies."""
        folders: dict[int, Path] = {}
        for p in sorted(self.data_root.iterdir(), key=lambda p: natural_key(p.name)):
            m = _SUBJECT.match(p.name)
            if m and p.is_dir():
                folders.setdefault(int(m[1]), p)
        return folders

    @functools.cached_property
    def _found(self) -> dict[tuple[int, str, int], Path]:
        """Clip folders on disk by (subject number, emotion code, index), however padded."""
        found: dict[tuple[int, str, int], Path] = {}
        for subject in self._subject_folders.values():
            micro = subject / "micro"
            emotions = sorted(p for p in micro.iterdir() if p.is_dir()) if micro.is_dir() else []
            for emotion in emotions:
                for clip in sorted((p for p in emotion.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
                    ident = parse_smic_clip(clip.name)
                    if ident is not None:
                        found.setdefault(ident, clip)
        return found

    @functools.cached_property
    def _table(self) -> tuple[list[ClipRecord], list[str]]:
        """One record per listed clip, found on disk or where it should be, and the quirks met."""
        records: list[ClipRecord] = []
        issues: list[str] = []
        for entry in load_megc_list(self.list_path):
            if entry.dataset != "smic":
                continue
            ident = parse_smic_clip(entry.clip)
            if ident is None:
                raise MestiError(f"composite list line {entry.line}", f"{entry.clip!r} is not a SMIC clip name (s1_ne_01)")
            number, code, index = ident
            notes: list[str] = []
            frame_dir = self._found.get(ident)
            if frame_dir is not None:
                # The emotion folder is the release's label; the code in the clip's name and
                # the composite list must agree with it.
                emotion = frame_dir.parent.name.lower()
                if emotion not in EMOTION_CODES:
                    notes.append(f"emotion folder {frame_dir.parent.name!r} is none of {', '.join(EMOTION_CODES)}; the clip has no class")
                elif emotion != _EMOTION_OF_CODE[code]:
                    notes.append(f"in folder {frame_dir.parent.name!r} but named {code!r}; the folder's emotion is used")
            else:
                # Not on disk: expect it where the release puts it, in the subject folder's
                # spelling already in use.
                emotion = _EMOTION_OF_CODE[code]
                subject_dir = self._subject_folders.get(number, self.data_root / f"s{number}")
                frame_dir = subject_dir / "micro" / emotion / smic_release_name(number, code, index)
            if emotion in EMOTION_CODES and emotion != entry.label:
                notes.append(f"line {entry.line} of the clip list labels it {entry.label}; the folder's emotion is used")
            subject = frame_dir.parents[2].name
            issues.extend(f"{subject}/{frame_dir.name}: {n}" for n in notes)
            records.append(
                ClipRecord(
                    dataset=self.name,
                    subject=subject,
                    clip_id=frame_dir.name,
                    emotion=emotion,
                    label=emotion if emotion in MEGC_CLASSES else None,
                    frame_dir=frame_dir,
                    fps=self.fps,
                    notes=tuple(notes),
                    root=self.root,
                )
            )
        return records, issues

    @property
    def class_names(self) -> list[str]:
        """negative, positive, surprise (the MEGC 2019 order)."""
        return list(MEGC_CLASSES)

    @property
    def issues(self) -> list[str]:
        """Quirks of the tree handled, one line each."""
        return list(self._table[1])

    def records(self) -> list[ClipRecord]:
        """The 164 SMIC-HS clips in list order; each spans its folder, apex the middle frame."""
        return list(self._table[0])

    def extra_folders(self) -> list[Path]:
        """Folders in the tree that are no listed clip (``non_micro/`` is part of the release)."""
        return extra_folders(self.data_root, [r.frame_dir for r in self.records()], ignore=IGNORED_FOLDERS)
