"""A CAS(ME)^3 part A copy laid out like the release, with small generated sheets of its structure.

``<root>/data/part_A/spNO.1/a/color/<N>.jpg`` (+ ``depth/<N>.png``, 16-bit) and, in
``<root>/annotation/``, the micro-expression sheet (sheet ``label``, its header as shipped:
``emotion`` in lower case), the all-expression workbook (sheets ``AU+Emotion`` and ``eye
blink``; written as .xlsx: nothing here writes the old .xls format, which the real-sheet
tests read), the error list with the authors' Chinese column names, and the two image lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import openpyxl

from tests.conftest import textured_frame

ME_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion"]
LONG_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Expression type", "Objective class"]
BLINK_HEADER = ["Subject", "Filename", "Onset", "Offset"]
ERROR_HEADER = [*ME_HEADER, "问题", "我们目前的解决方法", "图片(调整前)", "图片(调整后)"]
#: A micro-expression row: (Subject, Filename, Onset, Apex, Offset, emotion).
MERow = tuple[str, str, int, int, int, str]
#: An all-expression row: (Subject, Filename, Onset, Apex, Offset, "Micro-expression" or "Macro-expression").
LongRow = tuple[str, str, int, int, int, str]


def _book(path: Path, sheets: dict[str, tuple[list[str], Iterable[Sequence[object]]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, (header, rows) in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(header)
        for r in rows:
            ws.append(list(r))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_me_sheet(path: Path, rows: Iterable[MERow]) -> Path:
    """``cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx``: sheet ``label`` plus the two empty sheets of the release."""
    body = [(s, f, on, ap, off, "4", "III", emo) for s, f, on, ap, off, emo in rows]
    return _book(path, {"label": (ME_HEADER, body), "Sheet1": ([], []), "Sheet3": ([], [])})


def write_long_sheet(path: Path, rows: Iterable[LongRow], blinks: Iterable[tuple[str, str, int, int]] = ()) -> Path:
    """The all-expression workbook: sheets ``AU+Emotion`` and ``eye blink``."""
    body = [(s, f, on, ap, off, "12", kind, "I") for s, f, on, ap, off, kind in rows]
    return _book(path, {"AU+Emotion": (LONG_HEADER, body), "eye blink": (BLINK_HEADER, list(blinks))})


def write_error_list(path: Path, rows: Iterable[tuple[MERow, str, str]]) -> Path:
    """``casme3_partA_error_list_ZhouJu.xlsx``: (row, problem, fix) as the authors write them."""
    body = [(s, f, on, ap, off, "4", "III", emo, problem, fix, None, None) for (s, f, on, ap, off, emo), problem, fix in rows]
    return _book(path, {"Sheet1": (ERROR_HEADER, body)})


def write_frames(root: Path, subject: str, task: str, numbers: Iterable[int], depth: bool = True,
                 frames: np.ndarray | None = None, size: int = 16) -> Path:
    """Colour frames ``<N>.jpg`` (textured, or ``frames`` in order) and 16-bit depth ``<N>.png``
    (value ``1000 + N``, above 255 so a reader that drops to 8 bits is caught). Returns ``color/``."""
    color = root / subject / task / "color"
    color.mkdir(parents=True, exist_ok=True)
    if depth:
        (color.parent / "depth").mkdir(exist_ok=True)
    for k, n in enumerate(numbers):
        image = frames[k] if frames is not None else np.clip(textured_frame(size, seed=n) + n % 7, 0, 255).astype(np.uint8)
        cv2.imwrite(str(color / f"{n}.jpg"), image[:, :, ::-1])
        if depth:
            cv2.imwrite(str(color.parent / "depth" / f"{n}.png"), np.full(image.shape[:2], 1000 + n, np.uint16))
    return color
