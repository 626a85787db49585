"""Long videos with their expression intervals: what every long-video adapter gives spotting.

A long-video adapter (``samm-long``, ``casme-sq``, ``long-manifest``) has ``videos()``, each
:class:`LongVideo` with its ground-truth intervals in 0-based frames, and ``records()``, one
clip per interval (class = micro / macro), so ``mesti data check`` and the recognition
pipeline see the expressions as ordinary clips. Rows that cannot be matched to a video, run
past its end or are reversed are reported in ``issues`` (release sheets) or refused (a user's
interval file), never guessed. Overlapping intervals (a micro-expression inside a macro) are
kept: the MEGC evaluation counts every one. Videos the sheet names but that cannot be found
(no folder, several candidates) are ``missing_videos``, which ``mesti data check`` counts as
missing.

The clip adapters' guards hold for long videos too: one video listed twice (under two
subjects, or spelled two ways) is refused (:class:`~mesti.datasets.base.ListedOnce`), and a
frame or video linking out of the dataset root is refused
(:func:`~mesti.datasets.base.inside_root`) when the video is opened or checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2

from mesti.clips.intervals import KINDS, Interval
from mesti.clips.io import open_video, sorted_frame_paths
from mesti.clips.stream import FrameStream, open_stream
from mesti.datasets.base import ClipRecord, ListedOnce, inside_root
from mesti.errors import MestiError
from mesti.utils.ranges import FPS

_LAST_NUMBER = re.compile(r"(\d+)\D*$")
CLASS_NAMES = list(KINDS)


@dataclass(frozen=True)
class LongVideo:
    """One long video: where it is (a frame folder or a file), its rate, its expressions.

    ``root`` is the dataset folder its files must stay in; ``where`` the sheet row or manifest
    line that names it (for messages); ``missing`` why it could not be located (``""`` when it
    was; a missing video has ``frames`` 0 and its intervals as the sheet gives them).

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
    root: Path | None = None
    where: str = ""
    missing: str = ""
    blinks: tuple[Interval, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.subject}/{self.video_id}"

    def frame_paths(self) -> list[Path]:
        """The files its pixels come from (every frame of a folder, or the video file), or
        :class:`~mesti.datasets.base.OutsideRootError` for one linking out of ``root``."""
        paths = sorted_frame_paths(self.path) if self.kind == "frames" else [self.path]
        return inside_root(paths, self.root, self.key)

    def open(self) -> FrameStream:
        """The video as a stream, its files checked first (:meth:`frame_paths`)."""
        if self.missing:
            raise MestiError(self.key, self.missing)
        self.frame_paths()
        return open_stream(self.path, self.fps)


def parse_fps(value: float | str) -> float:
    """A frame rate from an option (``--opt fps=30`` arrives as text), or :class:`MestiError`."""
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise MestiError("fps", f"{value!r} is not a frame rate") from None
    return FPS.check(fps, "fps")


def frame_count(path: Path, kind: str) -> int:
    """Frames of a video folder (files counted) or file (the container's count), no pixels read."""
    if kind == "frames":
        return len(sorted_frame_paths(path))
    cap = open_video(path)
    try:
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

    Reversed intervals, intervals past the last frame and an interval given twice are errors
    when ``strict`` (a user's own file: :class:`MestiError`), else reported and skipped; so is
    an apex outside onset..offset when ``strict`` (a release sheet's is moved to the middle
    frame, with a note). Overlapping intervals are kept: MEGC counts every expression, a
    micro-expression inside a macro-expression included. An apex below 0 means "none given"
    (the middle frame, said by the adapter).
    """
    kept: list[Interval] = []
    issues: list[str] = []
    seen: dict[tuple[int, int, str], str] = {}

    def bad(where: str, what: str) -> None:
        if strict:
            raise MestiError(where, what)
        issues.append(f"{where}: {what}; row skipped")

    for iv, where in sorted(intervals, key=lambda p: (p[0].onset, p[0].offset)):
        same = (iv.onset, iv.offset, iv.kind)
        if iv.onset < 0 or iv.offset < iv.onset:
            bad(where, f"onset {iv.onset} and offset {iv.offset} are no interval (reversed or negative)")
        elif iv.offset >= frames:
            bad(where, f"the interval {iv.onset}..{iv.offset} runs past the {frames} frames of video {video}")
        elif same in seen:
            bad(where, f"the {iv.kind} interval {iv.onset}..{iv.offset} of video {video} is given twice (also {seen[same]})")
        elif iv.apex >= 0 and not iv.onset <= iv.apex <= iv.offset and strict:
            bad(where, f"apex {iv.apex} is outside onset..offset {iv.onset}..{iv.offset}")
        else:
            if not iv.onset <= iv.apex <= iv.offset:
                if iv.apex >= 0:
                    issues.append(f"{where}: apex {iv.apex} outside {iv.onset}..{iv.offset}; taken as the middle frame")
                iv = Interval(iv.onset, (iv.onset + iv.offset) // 2, iv.offset, iv.kind, iv.score, iv.label)
            seen[same] = where
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
                frame_pattern=None, fps=v.fps, kind="frames" if v.kind == "frames" else "video", root=v.root,
            ))
    return out


def check_videos(videos: list[LongVideo]) -> list[LongVideo]:
    """``videos``, or :class:`MestiError` when one is listed twice (the clip adapters' guard,
    :class:`~mesti.datasets.base.ListedOnce`) or two share a name (results, predictions and
    ground truth name a video by its folder or file name, so the second would be scored
    against the first's expressions)."""
    listed = ListedOnce("long video")
    names: dict[str, LongVideo] = {}
    for v in videos:
        where = v.where or v.key
        listed.add(v.path, where, where, v.subject, v.video_id)
        if v.video_id in names:
            first = names[v.video_id]
            raise MestiError(where, f"two videos are named {v.video_id} ({first.path} and {v.path}): results and "
                             "predictions name a video by its folder or file name; rename one")
        names[v.video_id] = v
    return videos


class LongVideoAdapter:
    """What every long-video adapter shares: ``_table`` (the settled videos and the sheet
    issues, read once) gives its videos, classes, issues and one record per expression.
    Videos the sheet names that cannot be located (``missing`` set) are kept apart in
    :attr:`missing_videos`."""

    _table: tuple[list[LongVideo], list[str]]

    def videos(self) -> list[LongVideo]:
        """Every video the sheet names that exists, with its settled expression intervals
        (:func:`check_videos` holds)."""
        return check_videos([v for v in self._table[0] if not v.missing])

    @property
    def missing_videos(self) -> list[LongVideo]:
        """Videos the sheet names that could not be located, each saying why (``missing``)."""
        return [v for v in self._table[0] if v.missing]

    @property
    def class_names(self) -> list[str]:
        return list(CLASS_NAMES)

    @property
    def issues(self) -> list[str]:
        return list(self._table[1])

    def records(self) -> list[ClipRecord]:
        return interval_records(self.videos())
