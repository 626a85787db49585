"""A synthetic set laid out as SAMM or SMIC-HS, so every dataset adapter has a stand-in.

``mesti synth`` writes the CASME II release; :func:`relayout` copies its clips into the SAMM
release (``SAMM/<subject>/<clip>/<subject>_<frame>.jpg`` and a v2 coding sheet with its 13
rows of notes) or the SMIC-HS tree (``HS/s<n>/micro/<emotion>/s<n>_<code>_<i>/image<frame>.bmp``).
Emotions map one to one: SAMM takes anger for disgust, contempt for repression and other
for others; SMIC-HS, which has only negative / positive / surprise, leaves "others" out.
Every layout also gets ``clip_list.csv``: its 3-class clips in the MEGC 2019 list format,
which the smic and composite adapters read in place of the pinned list of real clips.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import cv2
from openpyxl import Workbook

from mesti.datasets.base import ClipRecord
from mesti.datasets.casme2 import CASME2
from mesti.datasets.casme2 import label_for as casme2_label
from mesti.datasets.megc import MEGC_CLASSES
from mesti.errors import MestiError
from mesti.utils.atomic import atomic_dir
from mesti.utils.outputs import SYNTH_MARKER

LAYOUTS = ("casme2", "samm", "smic")
SAMM_EMOTION = {"happiness": "Happiness", "surprise": "Surprise", "disgust": "Anger", "repression": "Contempt",
                "others": "Other", "negative": "Anger", "positive": "Happiness"}
SMIC_CODE = {"negative": "ne", "positive": "po", "surprise": "sur"}
SAMM_COLUMNS = ("Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame", "Duration",
                "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes")
LIST_COLUMNS = ("dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename")


def _megc(emotion: str) -> str | None:
    return emotion if emotion in MEGC_CLASSES else casme2_label(emotion, 3)


def _samm(records: list[ClipRecord], out: Path) -> list[list[str]]:
    wb = Workbook()
    ws = wb.active
    ws.title = "MICRO_ONLY"
    ws.append(["SAMM Dataset - Master FACS Codes (a mesti synth stand-in, not the real SAMM)"])
    for _ in range(12):
        ws.append([])
    ws.append(list(SAMM_COLUMNS))
    listed = []
    for r in records:
        subject = f"{int(r.subject.removeprefix('sub')):03d}"
        clip = f"{subject}_{r.clip_id}"
        folder = out / "SAMM" / subject / clip
        folder.mkdir(parents=True)
        for n, src in zip(range(r.onset_frame or 0, (r.offset_frame or 0) + 1), r.frame_paths()):
            shutil.copyfile(src, folder / f"{subject}_{n:05d}.jpg")
        ws.append([subject, clip, 1, r.onset_frame, r.apex_frame, r.offset_frame,
                   (r.offset_frame or 0) - (r.onset_frame or 0) + 1, "Micro - 1/2", r.action_units, SAMM_EMOTION[r.emotion], 1, None])
        ws.cell(row=ws.max_row, column=1).number_format = "@"
        if (label := _megc(r.emotion)) is not None:
            listed.append(["samm", subject, clip, str(MEGC_CLASSES.index(label)), "", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    (out / "SAMM_Micro_FACS_Codes_v2.xlsx").write_bytes(buf.getvalue())
    return listed


def _smic(records: list[ClipRecord], out: Path) -> list[list[str]]:
    listed = []
    counts: dict[tuple[int, str], int] = {}
    for r in records:
        label = _megc(r.emotion)
        if label is None:
            continue  # SMIC-HS has no "others"
        number = int(r.subject.removeprefix("sub"))
        code = SMIC_CODE[label]
        counts[(number, code)] = index = counts.get((number, code), 0) + 1
        name = f"s{number}_{code}_{index:02d}"
        folder = out / "HS" / f"s{number}" / "micro" / label / name
        folder.mkdir(parents=True)
        # SMIC-HS clips run onset to offset; the adapter takes the middle frame as the apex.
        for n, src in zip(range(r.onset_frame or 0, (r.offset_frame or 0) + 1), r.frame_paths()):
            image = cv2.imread(str(src), cv2.IMREAD_COLOR)
            if image is None or not cv2.imwrite(str(folder / f"image{n}.bmp"), image):
                raise MestiError(src, "cannot convert the frame to BMP")
        listed.append(["smic", f"s{number:02d}", name, str(MEGC_CLASSES.index(label)), "", "", ""])
    return listed


def relayout(src: str | Path, out: str | Path, layout: str) -> Path:
    """Copy the synthetic CASME II set at ``src`` into ``out`` in ``layout`` (casme2, samm, smic)."""
    if layout not in LAYOUTS:
        raise MestiError("--layout", f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    records = CASME2(src).records()
    with atomic_dir(out, "synthetic dataset", option="OUT_DIR") as tmp:
        if layout == "casme2":
            shutil.copytree(src, tmp, dirs_exist_ok=True)
            listed = [["casme2", f"sub{int(r.subject.removeprefix('sub')):02d}", r.clip_id,
                       str(MEGC_CLASSES.index(lab)), "", "", ""] for r in records if (lab := _megc(r.emotion)) is not None]
        else:
            listed = _samm(records, tmp) if layout == "samm" else _smic(records, tmp)
            for extra in (SYNTH_MARKER, "contact_sheet.png"):
                if (Path(src) / extra).is_file():
                    shutil.copyfile(Path(src) / extra, tmp / extra)
        with open(tmp / "clip_list.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(LIST_COLUMNS)
            writer.writerows(listed)
    return Path(out)
