"""Fake dataset copies laid out like the real releases, built from the official sheets.

The sheets are read here with pandas/openpyxl directly (not through the adapters), so a
test compares an adapter with an independent reading of the layout in DATASETS.md. Frames
are tiny images; only the clips a test asks for are written.

Reusable by any test: ``annotation(name)`` finds an official sheet or skips;
``build_samm_tree``, ``build_casme2_tree``, ``build_smic_tree`` write a release;
``subset_samm_sheet`` writes a smaller SAMM sheet with the real sheet's structure;
``write_video`` writes a small MJPG .avi.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
ANNOTATIONS_ENV = "MESTI_ANNOTATIONS"
SAMM_SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
CASME2_SHEET = "CASME2-coding-20140508.xlsx"
SMIC_E_SHEET = "SMIC-HS-E_annotation.xlsx"
COMPOSITE_LIST = "megc2019_composite_442.csv"
SMIC_EMOTIONS = {"ne": "negative", "po": "positive", "sur": "surprise"}


def annotations_dir() -> Path:
    """Where the official sheets are: ``$MESTI_ANNOTATIONS``, else ``../shared/annotations``."""
    env = os.environ.get(ANNOTATIONS_ENV)
    return Path(env) if env else REPO.parent / "shared" / "annotations"


def annotation(name: str) -> Path:
    """The official sheet ``name``, or skip the test saying where it was looked for."""
    path = annotations_dir() / name
    if not path.is_file():
        pytest.skip(f"official sheet {name} not found in {path.parent} (set {ANNOTATIONS_ENV} to the folder holding it)")
    return path


def shipped_composite_list() -> Path:
    """The package's own copy of the composite list: tests that need only it run on a clean clone."""
    from importlib import resources

    return Path(str(resources.files("mesti").joinpath("data", COMPOSITE_LIST)))


def frame(value: int, size: tuple[int, int] = (8, 6), mode: str = "RGB") -> Image.Image:
    """A tiny flat image (``size`` is width x height); ``value`` tells frames apart."""
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    return Image.fromarray(np.full(shape, value % 256, dtype=np.uint8), mode=mode)


def _write_frames(folder: Path, numbers: Iterable[int], name: str, mode: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        frame(n, mode=mode).save(folder / name.format(n=n))


# -- SAMM --------------------------------------------------------------------------------


def read_samm_sheet(sheet: Path) -> pd.DataFrame:
    """The SAMM v2 sheet as DATASETS.md describes it: header on row 14, Subject as text."""
    return pd.read_excel(sheet, sheet_name="MICRO_ONLY", header=13, dtype={"Subject": str})


def build_samm_tree(root: Path, sheet: Path, clips: Iterable[str], nested: bool = True) -> Path:
    """Write ``SAMM/{subject}/{clip}/{subject}_{n:05d}.jpg`` (grayscale) for the named clips.

    ``nested`` puts them under ``root/SAMM``, else directly under ``root``. Returns the
    folder holding the subject folders.
    """
    top = root / "SAMM" if nested else root
    df = read_samm_sheet(sheet).set_index("Filename")
    for clip in clips:
        row = df.loc[clip]
        subject = row["Subject"]
        numbers = range(int(row["Onset Frame"]), int(row["Offset Frame"]) + 1)
        _write_frames(top / subject / clip, numbers, f"{subject}_{{n:05d}}.jpg", "L")
    return top


def subset_samm_sheet(src: Path, dst: Path, clips: Iterable[str], edits: Mapping[tuple[str, str], Any] | None = None) -> Path:
    """Copy the SAMM sheet keeping its preamble and header, only the rows of ``clips``.

    ``edits`` sets cells by ``(clip, column header)``, e.g. ``{("006_1_2", "Apex Frame"): -1}``,
    to reproduce a quirk of another sheet version.
    """
    keep = set(clips)
    wb = openpyxl.load_workbook(src)
    ws = wb["MICRO_ONLY"]
    header = {str(c.value).strip(): c.column for c in ws[14] if c.value is not None}
    for r in range(ws.max_row, 14, -1):
        if ws.cell(r, header["Filename"]).value not in keep:
            ws.delete_rows(r)
    for (clip, column), value in (edits or {}).items():
        rows = [r for r in range(15, ws.max_row + 1) if ws.cell(r, header["Filename"]).value == clip]
        assert rows, f"{clip} is not in the subset"
        ws.cell(rows[0], header[column]).value = value
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return dst


SAMM_COLUMNS = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
                "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes"]


def write_samm_sheet(path: Path, clips: Iterable[tuple[str, str, int, int, int, str]]) -> Path:
    """A sheet of the v2 structure for tests that must run without the official one.

    13 rows of notes, the header on row 14, Subject as text; ``clips`` are
    ``(subject, filename, onset, apex, offset, emotion)``.
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "MICRO_ONLY"
    ws.append(["SAMM Dataset - Master FACS Codes (generated for tests)"])
    for _ in range(12):
        ws.append([])
    ws.append(SAMM_COLUMNS)
    for subject, filename, onset, apex, offset, emotion in clips:
        ws.append([subject, filename, 1, onset, apex, offset, offset - onset + 1, "Micro - 1/2", "4+7", emotion, 3, None])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# -- CASME II ----------------------------------------------------------------------------


def build_casme2_tree(root: Path, sheet: Path, clips: Iterable[tuple[str, str]]) -> Path:
    """Write ``CASME2_RAW_selected/subNN/{clip}/img{n}.jpg`` for ``(subject folder, clip)`` pairs."""
    top = root / "CASME2_RAW_selected"
    df = pd.read_excel(sheet)
    df["folder"] = [f"sub{int(s):02d}" for s in df["Subject"]]
    rows = df.set_index(["folder", "Filename"])
    for subject, clip in clips:
        row = rows.loc[(subject, clip)]
        numbers = range(int(row["OnsetFrame"]), int(row["OffsetFrame"]) + 1)
        _write_frames(top / subject / clip, numbers, "img{n}.jpg", "RGB")
    return top


# -- SMIC-HS -----------------------------------------------------------------------------


def composite_rows(dataset: str) -> pd.DataFrame:
    """The composite list's rows of one dataset (from the official copy)."""
    df = pd.read_csv(shipped_composite_list(), dtype=str)
    return df[df["dataset"] == dataset].reset_index(drop=True)


def smic_release_folder(megc_clip: str) -> tuple[str, str, str]:
    """``'s03_po_11'`` (the list's spelling) -> ``('s3', 'positive', 's3_po_11')`` (the release's)."""
    subject, code, index = megc_clip.split("_")
    number = int(subject[1:])
    return f"s{number}", SMIC_EMOTIONS[code], f"s{number}_{code}_{index}"


def build_smic_tree(
    root: Path,
    clips: Iterable[str],
    frames: int = 5,
    first: int = 106713,
    padded_subjects: bool = False,
    nested: bool = True,
) -> Path:
    """Write ``HS/s3/micro/positive/s3_po_11/image{n}.bmp`` for clips named as in the list.

    ``padded_subjects`` names subject folders ``s03`` (some copies) instead of ``s3``.
    Returns the folder holding the subject folders.
    """
    top = root / "HS" if nested else root
    for clip in clips:
        subject, emotion, folder = smic_release_folder(clip)
        if padded_subjects:
            subject = f"s{int(subject[1:]):02d}"
        _write_frames(top / subject / "micro" / emotion / folder, range(first, first + frames), "image{n}.bmp", "RGB")
    return top


# -- videos ------------------------------------------------------------------------------


def write_video(path: Path, n_frames: int, size: tuple[int, int] = (32, 24), fps: float = 25.0) -> Path:
    """An MJPG ``.avi`` whose frame ``t`` is flat grey ``20 * t`` (so frames are told apart)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG .avi here"
    for t in range(n_frames):
        writer.write(np.full((size[1], size[0], 3), (20 * t) % 256, dtype=np.uint8))
    writer.release()
    return path
