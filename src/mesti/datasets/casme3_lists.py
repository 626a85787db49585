"""CAS(ME)^3 part A's exception lists, read as the dataset's authors publish them.

- ``casme3_partA_error_list_ZhouJu.xlsx`` (first sheet): clips with a known error. Columns
  Subject, Filename, Onset, Apex, Offset, AU, Objective class, emotion, ``问题`` (the
  problem, e.g. ``apex脸部被手遮盖``: the face is covered by a hand at the apex) and
  ``我们目前的解决方法`` (the authors' fix: ``去除该张``, remove the sample, or
  ``Onset、Apex帧均+1``, onset and apex frame numbers plus one).
- ``error_info_damaged_image_partA.txt``: ``spNO.3 J 498.jpg  the image cannot open``.
- ``image_with_bad_quality_partA.txt``: one path per line on the authors' machine, of which
  the last four parts count: ``<Subject>/<Filename>/color/<N>.jpg``.

Lines or rows that cannot be understood are reported, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mesti.datasets.sheets import cell_int, cell_text, is_blank, read_excel, require_columns
from mesti.errors import MestiError

#: (Subject, Filename in lower case, frame number): one frame of the colour sequence.
FrameKey = tuple[str, str, int]

ERROR_COLUMNS = ("Subject", "Filename", "Onset")
PROBLEM_COLUMN = "问题"
FIX_COLUMN = "我们目前的解决方法"
_REMOVE = "去除"
_SHIFT = re.compile(r"onset.*apex.*?\+\s*(\d+)", re.IGNORECASE)
_FRAME_FILE = re.compile(r"^(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class ErrorEntry:
    """One clip of the error list and what the authors do about it.

    ``shift`` is their correction (onset and apex plus ``shift`` frames); ``None`` means the
    clip is removed (their ``去除该张``, or a fix this reader does not understand).
    """

    where: str
    subject: str
    filename: str
    onset: int
    problem: str
    fix: str
    shift: int | None


def read_error_list(path: Path) -> tuple[dict[tuple[str, str, int], ErrorEntry], list[str]]:
    """The error list keyed by (Subject, Filename, Onset), and rows it could not read."""
    df = read_excel(path, 0, header=0)
    require_columns(df, ERROR_COLUMNS, path, "the CAS(ME)^3 error list (Subject, Filename, Onset, ...)")
    entries: dict[tuple[str, str, int], ErrorEntry] = {}
    issues: list[str] = []
    for i, rec in enumerate(df.to_dict("records")):
        if all(is_blank(v) for v in rec.values()):
            continue
        where = f"{path.name} row {i + 2}"
        subject, filename, onset = cell_text(rec["Subject"]), cell_text(rec["Filename"]), cell_int(rec["Onset"])
        if not subject or not filename or onset is None:
            issues.append(f"{where}: no Subject, Filename or Onset; row not used")
            continue
        problem, fix = cell_text(rec.get(PROBLEM_COLUMN)), cell_text(rec.get(FIX_COLUMN))
        m = _SHIFT.search(fix)
        shift = int(m.group(1)) if m and _REMOVE not in fix else None
        if shift is None and _REMOVE not in fix:
            issues.append(f"{where}: fix {fix!r} is not understood (neither removal nor an onset/apex shift); the clip is removed")
        key = (subject, filename, onset)
        if key in entries:
            issues.append(f"{where}: lists {subject} {filename} onset {onset} again ({entries[key].where}); row not used")
            continue
        entries[key] = ErrorEntry(where, subject, filename, onset, problem, fix, shift)
    return entries, issues


def read_damaged(path: Path) -> tuple[dict[FrameKey, str], list[str]]:
    """Frames that cannot be opened in the release (``spNO.3 J 498.jpg  the image cannot open``)."""
    frames: dict[FrameKey, str] = {}
    issues: list[str] = []
    for n, line in enumerate(_lines(path), start=1):
        parts = line.split()
        if not parts:
            continue
        m = _FRAME_FILE.match(parts[2]) if len(parts) >= 3 else None
        if m is None:
            issues.append(f"{path.name} line {n}: {line.strip()!r} is not '<Subject> <Filename> <N>.jpg <reason>'; line not used")
            continue
        frames[(parts[0], parts[1].lower(), int(m.group(1)))] = " ".join(parts[3:]) or "damaged"
    return frames, issues


def read_bad_quality(path: Path) -> tuple[set[FrameKey], list[str]]:
    """Colour frames the authors mark as of bad quality (paths of their machine: the last four parts count)."""
    frames: set[FrameKey] = set()
    issues: list[str] = []
    for n, line in enumerate(_lines(path), start=1):
        text = line.strip()
        if not text:
            continue
        parts = PurePosixPath(text.replace("\\", "/")).parts
        m = _FRAME_FILE.match(parts[-1]) if len(parts) >= 4 and parts[-2].lower() == "color" else None
        if m is None:
            issues.append(f"{path.name} line {n}: {text!r} is not a path ending in <Subject>/<Filename>/color/<N>.jpg; line not used")
            continue
        frames.add((parts[-4], parts[-3].lower(), int(m.group(1))))
    return frames, issues


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise MestiError(path, f"cannot read the list ({exc.strerror or exc})") from None
