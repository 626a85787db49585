"""The MEGC 2019 composite: CASME II + SAMM + SMIC-HS as one 3-class dataset of 442 clips.

The clips and labels are the pinned list ``megc2019_composite_442.csv`` (shipped with the
package), not re-derived: the sheets' MEGC mapping gives 147 CASME II clips, the list 145.
Each clip's frames, onset, apex and offset come from its own dataset's adapter; where a
sheet and the list disagree the list wins and the difference is reported in ``issues``.

Records keep their dataset's names (``casme2/sub01/EP02_01f``, ``samm/006/006_1_2``,
``smic/s1/s1_ne_01``): a subject is ``dataset/subject``, so 24 + 28 + 16 = 68 subjects.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

from mesti.datasets.base import ClipRecord
from mesti.datasets.layout import adapter_extra_folders, existing_folder, release_folder
from mesti.datasets.megc import MEGC_CLASSES, MegcEntry, load_megc_list, match_key
from mesti.datasets.registry import DatasetAdapter, create_dataset, register_dataset
from mesti.datasets.sheets import check_classes, check_options
from mesti.errors import MestiError

#: The datasets of the composite, in the list's order.
PARTS: tuple[str, ...] = ("casme2", "samm", "smic")
#: Folder names under a composite root that hold one dataset (the adapters take either level).
_PART_FOLDERS = {"casme2": "CASME2", "samm": "SAMM", "smic": "SMIC"}


@register_dataset("composite")
class Composite:
    """MEGC 2019 composite: CASME II + SAMM + SMIC-HS, the 442 clips of the pinned list; 3 classes.

    ``Composite(root, sheet=None, classes=3, **per_dataset)``. ``root`` holds the three
    datasets, each as its adapter accepts it (``CASME2/`` or ``CASME2_RAW_selected/``,
    ``SAMM/``, ``SMIC/`` or ``HS/``). Per-dataset options override that: ``casme2_root``,
    ``samm_root``, ``smic_root``, ``casme2_sheet``, ``samm_sheet``, ``casme2_release``
    ('raw' or 'cropped'). ``sheet`` is another composite list in the same CSV format
    (default: the shipped one). 3 classes only.
    """

    name = "composite"

    def __init__(
        self,
        root: str | Path,
        sheet: str | Path | None = None,
        classes: int = 3,
        *,
        casme2_root: str | Path | None = None,
        samm_root: str | Path | None = None,
        smic_root: str | Path | None = None,
        casme2_sheet: str | Path | None = None,
        samm_sheet: str | Path | None = None,
        casme2_release: str | None = None,
        **extra: Any,
    ) -> None:
        takes = "sheet, classes, casme2_root, samm_root, smic_root, casme2_sheet, samm_sheet, casme2_release"
        check_options("composite", extra, takes)
        self.classes = check_classes("composite", classes, (3,))
        self.root = existing_folder(root, "the folder holding CASME II, SAMM and SMIC")
        self.list_path = Path(sheet) if sheet is not None else None
        self.entries: list[MegcEntry] = load_megc_list(self.list_path)
        roots = {"casme2": casme2_root, "samm": samm_root, "smic": smic_root}
        options: dict[str, dict[str, Any]] = {
            "casme2": {"sheet": casme2_sheet, "release": casme2_release},
            "samm": {"sheet": samm_sheet},
            "smic": {"sheet": self.list_path},  # SMIC's clip set is the list's
        }
        self.parts: dict[str, DatasetAdapter] = {}
        for part in PARTS:
            part_root = roots[part] or release_folder(self.root, _PART_FOLDERS[part])
            kwargs = {k: v for k, v in options[part].items() if v is not None}
            self.parts[part] = create_dataset(part, part_root, classes=3, **kwargs)

    @functools.cached_property
    def _table(self) -> tuple[list[ClipRecord], list[str]]:
        """The listed clips with the list's labels, and every difference from the sheets."""
        issues = [f"{part}: {issue}" for part, adapter in self.parts.items() for issue in adapter.issues]
        by_key: dict[tuple[str, int, str], ClipRecord] = {}
        for part, adapter in self.parts.items():
            for rec in adapter.records():
                by_key.setdefault(match_key(part, rec.subject, rec.clip_id), rec)
        list_name = str(self.list_path) if self.list_path else "the MEGC 2019 composite list"
        records: list[ClipRecord] = []
        listed: dict[tuple[str, int, str], int] = {}
        for entry in self.entries:
            where = f"{list_name} line {entry.line}"
            name = f"{entry.dataset}/{entry.subject}/{entry.clip}"
            key = entry.match_key
            if key in listed:
                raise MestiError(where, f"{name} is listed twice (also line {listed[key]})")
            listed[key] = entry.line
            found = by_key.get(key)
            if found is None:
                raise MestiError(where, f"{name} is not in the {entry.dataset} sheet; is it another version?")
            notes = found.notes
            if found.label != entry.label:
                mapped = found.label or "no class"
                note = f"the list labels it {entry.label}; the sheet's {found.emotion!r} maps to {mapped}; the list's label is used"
                notes += (note,)
                issues.append(f"{found.key}: {note}")
            records.append(replace(found, label=entry.label, notes=notes))
        for key, rec in by_key.items():
            if rec.label is not None and key not in listed:
                issues.append(f"{rec.key}: the sheet's {rec.emotion!r} maps to {rec.label}, but the list leaves the clip out; not used")
        return records, issues

    @property
    def class_names(self) -> list[str]:
        """negative, positive, surprise (label 0, 1, 2 of the list)."""
        return list(MEGC_CLASSES)

    @property
    def issues(self) -> list[str]:
        """Each dataset's quirks (prefixed by its name), then the list's differences from the sheets."""
        return list(self._table[1])

    def records(self) -> list[ClipRecord]:
        """The listed clips in list order, labelled by the list."""
        return list(self._table[0])

    def extra_folders(self) -> list[Path]:
        """Each dataset's extra folders, judged against its full sheet (not the 442 clips)."""
        return [p for adapter in self.parts.values() for p in adapter_extra_folders(adapter)]
