"""Users' own data through a CSV manifest: clips (``folder``) or precomputed images (``images``).

``folder`` rows name a clip: a folder of frames or a video file, with optional 0-based
``onset``, ``apex``, ``offset`` positions (defaults: the whole clip, apex in the middle; the
convention of ``mesti encode``). ``images`` rows name one precomputed image per sample (a
flow or MESTI image a user already holds); its records have ``kind="image"``.

Columns: ``path`` (relative to the root), ``subject``, ``label`` (a class name or an integer),
optional ``dataset`` and ``clip``; ``folder`` also reads ``onset``, ``apex``, ``offset`` and
``fps``. Other columns are ignored. Paths must stay inside the root: absolute paths, ``..``
and links that lead out are refused with an error naming the row.
"""

from __future__ import annotations

import csv
import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesti.clips.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from mesti.datasets.base import ClipRecord, ListedOnce, RecordKind
from mesti.datasets.layout import existing_folder, resolve_inside
from mesti.datasets.registry import register_dataset
from mesti.datasets.sheets import cell_int, check_options
from mesti.errors import MestiError

REQUIRED_COLUMNS = ("path", "subject", "label")
DEFAULT_MANIFEST = "manifest.csv"
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class _Row:
    """One manifest row, checked, its label still as written."""

    line: int
    path: Path
    kind: RecordKind
    subject: str
    label: str
    dataset: str
    clip: str
    onset: int | None = None
    apex: int | None = None
    offset: int | None = None
    fps: float = 200.0


class _Manifest(ABC):
    """What both manifest adapters share: reading the CSV, resolving paths and labels."""

    name = "manifest"

    def __init__(
        self,
        root: str | Path,
        sheet: str | Path | None = None,
        classes: int | None = None,
        *,
        class_names: Sequence[str] | str | None = None,
        dataset: str | None = None,
        fps: float = 200.0,
        **extra: Any,
    ) -> None:
        check_options(self.name, extra, "sheet, classes, class_names, dataset, fps")
        self.root = existing_folder(root, "the folder the manifest's paths are relative to")
        self.sheet_path = Path(sheet) if sheet is not None else self.root / DEFAULT_MANIFEST
        if not self.sheet_path.is_file():
            raise MestiError(self.sheet_path, "no such manifest (a CSV with columns path, subject, label); give it with --manifest")
        if isinstance(class_names, str):
            class_names = [c.strip() for c in class_names.split(",") if c.strip()]
        self._given_classes = list(class_names) if class_names else None
        self._classes = classes
        self.dataset = dataset or self.name
        self.fps = float(fps)

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> list[tuple[int, dict[str, str]]]:
        """``(line number, cells)`` per row; cells stripped, absent ones empty, surplus ones dropped."""
        rows: list[tuple[int, dict[str, str]]] = []
        try:
            with open(self.sheet_path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                columns = [c.strip() for c in reader.fieldnames or []]
                missing = [c for c in REQUIRED_COLUMNS if c not in columns]
                if missing:
                    found = ", ".join(columns) or "none"
                    raise MestiError(self.sheet_path, f"missing column(s) {', '.join(missing)} (found {found})")
                for row in reader:
                    cells = {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}
                    rows.append((reader.line_num, cells))
        except UnicodeDecodeError:
            raise MestiError(self.sheet_path, "not a UTF-8 CSV file") from None
        return rows

    def _row(self, line: int, cells: dict[str, str]) -> _Row:
        """Check one row; ``kind`` and positions are the subclass's business."""
        where = f"{self.sheet_path.name} line {line}"
        path = resolve_inside(self.root, cells["path"], where)
        if not cells["subject"]:
            raise MestiError(where, "no subject (every sample needs one: folds are split by subject)")
        return _Row(
            line=line,
            path=path,
            kind=self._kind(path, where),
            subject=cells["subject"],
            label=cells["label"],
            dataset=cells.get("dataset") or self.dataset,
            clip=cells.get("clip") or (path.name if path.is_dir() else path.stem),
            **self._extra_fields(cells, where),
        )

    @abstractmethod
    def _kind(self, path: Path, where: str) -> RecordKind:
        """What the row's path is (frames, video, image), or :class:`MestiError` naming the row."""

    def _extra_fields(self, cells: dict[str, str], where: str) -> dict[str, Any]:
        """Further checked fields of a row (positions, fps); none by default."""
        return {}

    # -- labels ------------------------------------------------------------------------------

    def _class_names_and_labels(self, rows: list[_Row]) -> tuple[list[str], list[str | None], list[str]]:
        """Class names, each row's label and the issues met.

        Integer labels index ``class_names`` when given; without them the classes are the
        labels found, sorted (integers by value). A label outside given class names has no
        class and is reported.
        """
        written = [r.label for r in rows]
        is_int = [_INTEGER.fullmatch(w) is not None for w in written]
        issues: list[str] = []
        names = self._given_classes
        if names is None:
            used = [w for w in written if w]
            ints = [w for w, i in zip(written, is_int, strict=True) if w and i]
            if ints and len(ints) != len(used):
                what = "labels mix integers and class names; give class_names to say which integer is which class"
                raise MestiError(self.sheet_path, what)
            names = [str(v) for v in sorted({int(w) for w in ints})] if ints else sorted(set(used))
            labels: list[str | None] = [(str(int(w)) if i else w) if w else None for w, i in zip(written, is_int, strict=True)]
        else:
            labels = []
            for row, w, i in zip(rows, written, is_int, strict=True):
                if not w:
                    labels.append(None)
                elif i:
                    if not 0 <= int(w) < len(names):
                        raise MestiError(f"{self.sheet_path.name} line {row.line}", f"label {w} is not a class index 0..{len(names) - 1}")
                    labels.append(names[int(w)])
                elif w in names:
                    labels.append(w)
                else:
                    where = f"{self.sheet_path.name} line {row.line}"
                    issues.append(f"{where}: label {w!r} is none of {', '.join(names)}; the sample has no class")
                    labels.append(None)
        if self._classes is not None and self._classes != len(names):
            raise MestiError("--classes", f"the manifest has {len(names)} classes ({', '.join(names)}), not {self._classes}")
        return names, labels, issues

    # -- the adapter contract ------------------------------------------------------------------

    @functools.cached_property
    def _table(self) -> tuple[list[ClipRecord], list[str], list[str]]:
        rows = [self._row(line, cells) for line, cells in self._read()]
        if not rows:
            raise MestiError(self.sheet_path, "the manifest has no rows (one row per sample under the header path, subject, label)")
        names, labels, issues = self._class_names_and_labels(rows)
        seen: dict[str, int] = {}
        listed = ListedOnce("clip")
        records: list[ClipRecord] = []
        for row, label in zip(rows, labels, strict=True):
            listed.add(row.path, f"{self.sheet_path.name} line {row.line}", f"line {row.line}", row.subject,
                       str(row.path.relative_to(self.root)), (row.onset, row.offset))
            rec = ClipRecord(
                dataset=row.dataset,
                subject=row.subject,
                clip_id=row.clip,
                emotion=row.label,
                label=label,
                frame_dir=row.path,
                onset_frame=row.onset,
                apex_frame=row.apex,
                offset_frame=row.offset,
                fps=row.fps,
                kind=row.kind,
                root=self.root,
            )
            if rec.key in seen:
                where = f"{self.sheet_path.name} line {row.line}"
                raise MestiError(where, f"{rec.key} is also line {seen[rec.key]}; give a distinct 'clip' column")
            seen[rec.key] = row.line
            records.append(rec)
        return records, names, issues

    @property
    def class_names(self) -> list[str]:
        """The given class names, else the labels found (sorted; integers by value)."""
        return list(self._table[1])

    @property
    def issues(self) -> list[str]:
        """Rows whose label is outside the given class names."""
        return list(self._table[2])

    def records(self) -> list[ClipRecord]:
        """One record per row, in manifest order."""
        return list(self._table[0])

    def extra_folders(self) -> list[Path]:
        """Nothing: a manifest names files, it does not define a layout."""
        return []


@register_dataset("folder")
class FolderManifest(_Manifest):
    """Your own clips: a CSV manifest of frame folders or videos (path, subject, label, onset, apex, offset).

    ``FolderManifest(root, sheet=root/manifest.csv, classes=None, class_names=None,
    dataset='folder', fps=200)``. Each row is a frame folder or a video file with optional
    0-based ``onset``, ``apex``, ``offset`` and ``fps`` columns.
    """

    name = "folder"

    def _kind(self, path: Path, where: str) -> RecordKind:
        suffix = path.suffix.lower()
        if path.is_dir():
            return "frames"
        if suffix in VIDEO_SUFFIXES:
            return "video"
        if suffix in IMAGE_SUFFIXES:
            raise MestiError(where, f"{path.name} is a single image, not a clip; precomputed images go through the 'images' dataset")
        if path.exists():
            raise MestiError(where, f"{path.name} is neither a folder of frames nor a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
        return "frames"  # not there: a missing clip folder, reported by `mesti data check`

    def _extra_fields(self, cells: dict[str, str], where: str) -> dict[str, Any]:
        positions: dict[str, int | None] = {}
        for name in ("onset", "apex", "offset"):
            text = cells.get(name, "")
            value = cell_int(text)
            if text and (value is None or value < 0):
                raise MestiError(where, f"{name} {text!r} is not a 0-based frame position")
            positions[name] = value
        onset, apex, offset = positions["onset"], positions["apex"], positions["offset"]
        lo = onset or 0
        if offset is not None and offset <= lo:
            raise MestiError(where, f"offset {offset} is not after onset {lo}")
        if apex is not None and (apex < lo or (offset is not None and apex > offset)):
            raise MestiError(where, f"apex {apex} is outside onset..offset")
        fps_text = cells.get("fps", "")
        try:
            fps = float(fps_text) if fps_text else self.fps
        except ValueError:
            raise MestiError(where, f"fps {fps_text!r} is not a number") from None
        if not fps > 0:
            raise MestiError(where, f"fps {fps_text!r} must be positive")
        return {**positions, "fps": fps}


@register_dataset("images")
class ImageManifest(_Manifest):
    """Your own precomputed images: a CSV manifest, one image per sample (path, subject, label).

    ``ImageManifest(root, sheet=root/manifest.csv, classes=None, class_names=None,
    dataset='images')``. One image per sample: records of ``kind="image"``, read with
    ``record.load_image()``.
    """

    name = "images"

    def _kind(self, path: Path, where: str) -> RecordKind:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise MestiError(where, f"{path.name} is not an image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return "image"
