"""Reading annotation sheets as shipped: cells of mixed types, sheets found beside the data.

Spreadsheets mix numbers and text in one column (SAMM's Action Units hold ``4`` and
``'4+7'``), leave blank rows at the end, and arrive under several file names; these helpers
turn cells into plain values and fail with a message naming the sheet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mesti.datasets.base import ClipRecord
from mesti.errors import MestiError


def is_blank(value: Any) -> bool:
    """True for an empty cell: ``None``, NaN, or text of only spaces."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def cell_text(value: Any) -> str:
    """A cell as stripped text; whole floats lose their ``.0`` (``12.0`` -> ``'12'``); blank -> ``''``."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def cell_int(value: Any) -> int | None:
    """A cell as a whole number, or ``None`` when it is not one (``'/'``, blank, ``2.5``)."""
    if isinstance(value, bool) or is_blank(value):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


def read_excel(path: Path, sheet_name: str | int, header: int, dtype: dict[str, Any] | None = None) -> pd.DataFrame:
    """One worksheet as a DataFrame of plain objects (blanks as ``None``), or :class:`MestiError`.

    Old ``.xls`` workbooks (CAS(ME)^3's all-expression sheet) are read with xlrd (cells
    as xlrd gives them: numbers as floats, which :func:`cell_int` and :func:`cell_text` take).
    """
    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm", ".xls"):
        raise MestiError(path, "not an Excel workbook (.xlsx or .xls): give the dataset's coding sheet")
    if path.suffix.lower() == ".xls":
        return read_xls(path, sheet_name, header)
    try:
        df = pd.read_excel(path, sheet_name=sheet_name, header=header, dtype=dtype)
    except ValueError as exc:
        if "not found" in str(exc):  # pandas: "Worksheet named 'X' not found"
            raise MestiError(path, f"has no worksheet {sheet_name!r}") from None
        if isinstance(sheet_name, int) and "is invalid" in str(exc):  # "Worksheet index 1 is invalid, 1 worksheets found"
            found = str(exc).rsplit(",", 1)[-1].strip()
            raise MestiError(path, f"has no worksheet {sheet_name + 1} (counted from 1; {found})") from None
        raise MestiError(path, "not a readable Excel workbook (damaged, or another format under this name)") from None
    except Exception:  # openpyxl / zipfile raise many types for a file that is not a workbook
        raise MestiError(path, "not a readable Excel workbook (damaged, or another format under this name)") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df.astype(object).where(df.notna(), None)


def read_xls(path: Path, sheet_name: str | int, header: int | None) -> pd.DataFrame:
    """One worksheet of an old Excel (BIFF) workbook, read with xlrd directly (pandas' own
    xlrd route is deprecated); blanks as ``None``, or :class:`MestiError` naming the file."""
    try:
        import xlrd
    except ImportError:
        raise MestiError(path, "reading an old Excel .xls workbook needs the xlrd package (pip install 'xlrd>=2.0')") from None
    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # xlrd raises several types for a file that is not a workbook
        raise MestiError(path, f"cannot read the workbook ({exc.__class__.__name__}: {exc})") from None
    try:
        try:
            sheet = book.sheet_by_name(sheet_name) if isinstance(sheet_name, str) else book.sheet_by_index(sheet_name)
        except (xlrd.XLRDError, IndexError) as exc:
            raise MestiError(path, f"cannot read sheet {sheet_name!r} ({exc}; it has {', '.join(book.sheet_names())})") from None
        rows = [[None if is_blank(v) else v for v in sheet.row_values(r)] for r in range(sheet.nrows)]
    finally:
        book.release_resources()
    if header is None:
        df = pd.DataFrame(rows)
    else:
        names = [cell_text(v) or f"Unnamed: {i}" for i, v in enumerate(rows[header])] if len(rows) > header else []
        df = pd.DataFrame(rows[header + 1 :], columns=names) if names else pd.DataFrame()
    df.columns = [str(c).strip() for c in df.columns]
    return df.astype(object).where(df.notna(), None)


def require_columns(df: pd.DataFrame, columns: Iterable[str], where: str | Path, what: str) -> None:
    """Raise :class:`MestiError` naming the missing columns when ``df`` is not ``what``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns)) or "none"
        raise MestiError(where, f"not {what}: missing column(s) {', '.join(missing)} (found {found})")


def find_sheet(sheet: str | Path | None, folders: Sequence[Path], patterns: Sequence[str], what: str) -> Path:
    """The sheet the user gave, else the one file matching ``patterns`` in ``folders``.

    Releases ship their sheet beside the frames under varying names; looking there saves a
    flag, and two candidates are an error rather than a guess.
    """
    if sheet is not None:
        path = Path(sheet)
        if not path.is_file():
            raise MestiError(path, f"no such file (expected {what})")
        return path
    hits: list[Path] = []
    for folder in dict.fromkeys(folders):
        for pattern in patterns:
            hits += [p for p in sorted(folder.glob(pattern)) if not p.name.startswith("~$") and p not in hits]
    if len(hits) > 1:
        raise MestiError("--sheet", f"several candidates for {what} ({', '.join(map(str, hits))}); give one with --sheet")
    if not hits:
        names = " or ".join(patterns)
        raise MestiError("--sheet", f"no {what} ({names}) in {', '.join(map(str, dict.fromkeys(folders)))}; give it with --sheet")
    return hits[0]


def check_options(dataset: str, extra: dict[str, Any], takes: str) -> None:
    """Refuse options an adapter does not know, naming the ones it does (``takes``)."""
    if extra:
        raise MestiError(dataset, f"unknown option(s) {', '.join(sorted(extra))}; it takes {takes}")


def check_classes(dataset: str, classes: int, allowed: Sequence[int]) -> int:
    """``classes`` when the dataset has that protocol, else :class:`MestiError`."""
    if classes not in allowed:
        options = " or ".join(map(str, allowed))
        raise MestiError("--classes", f"{dataset} has {options} classes, not {classes}")
    return classes


@dataclass(frozen=True)
class SheetRow:
    """One usable row of a coding sheet (CASME II, SAMM) after every quirk is settled."""

    sheet_row: int
    subject: str
    filename: str
    onset: int
    apex: int
    offset: int
    emotion: str
    action_units: str
    notes: tuple[str, ...]

    def clip_record(self, dataset: str, label: str | None, frame_dir: Path, frame_pattern: str, fps: float,
                    root: Path | None = None) -> ClipRecord:
        """The row as a clip of ``dataset``; the adapter says where its frames lie and its class."""
        return ClipRecord(
            dataset=dataset,
            subject=self.subject,
            clip_id=self.filename,
            emotion=self.emotion,
            label=label,
            frame_dir=frame_dir,
            onset_frame=self.onset,
            apex_frame=self.apex,
            offset_frame=self.offset,
            frame_pattern=frame_pattern,
            fps=fps,
            action_units=self.action_units,
            notes=self.notes,
            root=root,
        )
