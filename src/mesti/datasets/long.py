"""Long videos with their expression intervals: what every long-video adapter gives spotting.

A long-video adapter (``samm-long``, ``casme-sq``, ``long-manifest``) has ``videos()``, each
:class:`LongVideo` with its ground-truth intervals in 0-based frames, and ``records()``, one
clip per interval (class = micro / macro), so ``mesti data check`` and the recognition
pipeline see the expressions as ordinary clips. Rows that cannot be matched to a video, run
past its end, are reversed or overlap are reported in ``issues`` (release sheets) or refused
(a user's interval file), never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2

from mesti.clips.intervals import KINDS, Interval
from mesti.clips.io import sorted_frame_paths
from mesti.datasets.base import ClipRecord
from mesti.errors import MestiError

_LAST_NUMBER = re.compile(r"(\d+)\D*$")
CLASS_NAMES = list(KINDS)


@dataclass(frozen=True)
class LongVideo:
    """One long video: where it is (a frame folder or a file), its rate, its expressions.

    ``blinks`` are labelled blinks (kind ``"blink"``) where the release annotates them
    (CAS(ME)^3): labelled negatives, never ground-truth expressions; the spotting evaluation
    reports how many a spotter took for an expression.
    """

    dataset: str
    subject: str
    video_id: str
    path: Path
    fps: float
    kind: str  # "frames" or "video"
    intervals: tuple[Interval, ...]
    frames: int
    blinks: tuple[Interval, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.subject}/{self.video_id}"


def parse_fps(value: float | str) -> float:
    """A frame rate from an option (``--opt fps=30`` arrives as text), or :class:`MestiError`."""
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise MestiError("fps", f"{value!r} is not a frame rate") from None
    if not 0 < fps <= 10000:
        raise MestiError("fps", f"the frame rate must be positive, got {value!r}")
    return fps


def frame_count(path: Path, kind: str) -> int:
    """Frames of a video folder (files counted) or file (the container's count), no pixels read."""
    if kind == "frames":
        return len(sorted_frame_paths(path))
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MestiError(path, "the video cannot be opened (unknown format or corrupt file)")
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()


def first_frame_number(folder: Path) -> int:
    """The number in the first frame's name (sheets count frames by file number)."""
    m = _LAST_NUMBER.search(sorted_frame_paths(folder)[0].stem)
    return int(m.group(1)) if m else 1


def settle_intervals(
    intervals: list[tuple[Interval, str]], frames: int, video: str, strict: bool
) -> tuple[list[Interval], list[str]]:
    """Keep the intervals that fit the video; each ``(interval, where)`` names its sheet row.

    Reversed intervals, intervals past the last frame and overlapping intervals are errors
    when ``strict`` (a user's own file: :class:`MestiError`), else reported and skipped.
    """
    kept: list[Interval] = []
    issues: list[str] = []

    def bad(where: str, what: str) -> None:
        if strict:
            raise MestiError(where, what)
        issues.append(f"{where}: {what}; row skipped")

    for iv, where in sorted(intervals, key=lambda p: (p[0].onset, p[0].offset)):
        if iv.onset < 0 or iv.offset < iv.onset:
            bad(where, f"onset {iv.onset} and offset {iv.offset} are no interval (reversed or negative)")
        elif iv.offset >= frames:
            bad(where, f"the interval {iv.onset}..{iv.offset} runs past the {frames} frames of video {video}")
        elif kept and iv.onset <= kept[-1].offset:
            bad(where, f"the interval {iv.onset}..{iv.offset} overlaps {kept[-1].onset}..{kept[-1].offset} of video {video}")
        else:
            if not iv.onset <= iv.apex <= iv.offset:
                issues.append(f"{where}: apex {iv.apex} outside {iv.onset}..{iv.offset}; taken as the middle frame")
                iv = Interval(iv.onset, (iv.onset + iv.offset) // 2, iv.offset, iv.kind, iv.score, iv.label)
            kept.append(iv)
    return kept, issues


def interval_records(videos: list[LongVideo]) -> list[ClipRecord]:
    """One clip record per expression (class micro or macro), frames as 0-based positions."""
    out: list[ClipRecord] = []
    for v in videos:
        for n, iv in enumerate(v.intervals, start=1):
            out.append(ClipRecord(
                dataset=v.dataset, subject=v.subject, clip_id=f"{v.video_id}_{n}", emotion=iv.label or iv.kind,
                label=iv.kind, frame_dir=v.path, onset_frame=iv.onset, apex_frame=iv.apex, offset_frame=iv.offset,
                frame_pattern=None, fps=v.fps, kind="frames" if v.kind == "frames" else "video",
            ))
    return out


class LongVideoAdapter:
    """What every long-video adapter shares: ``_table`` (the settled videos and the sheet
    issues, read once) gives its videos, classes, issues and one record per expression."""

    _table: tuple[list[LongVideo], list[str]]

    def videos(self) -> list[LongVideo]:
        """Every video the sheet names that exists, with its settled expression intervals."""
        return list(self._table[0])

    @property
    def class_names(self) -> list[str]:
        return list(CLASS_NAMES)

    @property
    def issues(self) -> list[str]:
        return list(self._table[1])

    def records(self) -> list[ClipRecord]:
        return interval_records(self.videos())
