"""Does a copy of a dataset match its sheet? The logic behind ``mesti data check``.

A licensed copy arrives as a multi-gigabyte archive that may be incomplete, re-encoded or
partly corrupt; finding that out before a week of training is the point. Every clip of the
sheet is located, every frame between onset and offset looked for and (optionally) decoded,
and folders that no sheet row names are listed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mesti.clips.io import declared_frames, open_video, read_image, sorted_frame_paths, truncation
from mesti.datasets.base import ClipRecord, OutsideRootError
from mesti.datasets.layout import adapter_extra_folders
from mesti.datasets.registry import DatasetAdapter
from mesti.errors import MestiError
from mesti.utils.hooks import Hooks, or_none

_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$")


@dataclass(frozen=True)
class Finding:
    """One problem: where (a clip key or a file) and what is wrong there."""

    where: str
    what: str


@dataclass
class CheckReport:
    """What ``check_dataset`` found. Missing or unreadable data are problems; extra folders
    and sheet quirks are information (the data can still be used)."""

    dataset: str
    clips: int
    labelled: int
    subjects: int
    class_counts: dict[str, int]  # in the adapter's class order, absent classes as 0
    frames_checked: int = 0
    decoded: bool = True
    missing_clips: list[Finding] = field(default_factory=list)
    missing_frames: list[Finding] = field(default_factory=list)
    unreadable: list[Finding] = field(default_factory=list)
    extra_folders: list[Path] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Number of findings that make the copy incomplete."""
        return len(self.missing_clips) + len(self.missing_frames) + len(self.unreadable)

    @property
    def ok(self) -> bool:
        """True when every clip of the sheet is present and readable."""
        return self.problems == 0


@dataclass
class _Plan:
    """One record's files to decode, and what was already found while locating them."""

    record: ClipRecord
    files: list[Path] = field(default_factory=list)
    missing_clip: Finding | None = None
    missing_frames: list[Finding] = field(default_factory=list)
    unreadable: list[Finding] = field(default_factory=list)


def number_ranges(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``'1-3, 7'``: missing frames said briefly."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def numbering_gaps(paths: list[Path]) -> list[int]:
    """Frame numbers absent between the first and last file of a folder numbered one way.

    SMIC-style folders have no sheet saying which frames exist; a hole in ``image106713,
    image106715`` is the only sign one was lost. Folders named another way give no gaps.
    """
    numbers: list[int] = []
    stems: set[tuple[str, str, str]] = set()
    for p in paths:
        m = _LAST_NUMBER.match(p.stem)
        if m is None:
            return []
        stems.add((m[1], m[3], p.suffix.lower()))
        numbers.append(int(m[2]))
    if len(stems) != 1 or len(numbers) < 2:
        return []
    return sorted(set(range(min(numbers), max(numbers) + 1)) - set(numbers))


def _locate(rec: ClipRecord) -> _Plan:
    """Find a record's files on disk without decoding them."""
    plan = _Plan(rec)
    if rec.kind != "frames":
        if not rec.frame_dir.is_file():
            plan.missing_clip = Finding(rec.key, f"no {rec.kind} file {rec.frame_dir}")
            return plan
        try:
            plan.files = rec.frame_paths()
        except MestiError as exc:  # a link leading out of the dataset root
            plan.unreadable.append(Finding(exc.where, exc.what))
        return plan
    if not rec.frame_dir.is_dir():
        plan.missing_clip = Finding(rec.key, f"no folder {rec.frame_dir}")
        return plan
    if rec.frame_pattern is not None:
        assert rec.onset_frame is not None and rec.offset_frame is not None  # adapters set both with a pattern
        try:
            paths = rec.frame_paths()
        except MestiError as exc:  # a link leading out of the dataset root
            plan.unreadable.append(Finding(exc.where, exc.what))
            return plan
        missing = [n for n, p in zip(range(rec.onset_frame, rec.offset_frame + 1), paths, strict=True) if not p.is_file()]
        if missing:
            example = rec.frame_pattern.format(n=missing[0])
            what = f"{len(missing)} of {len(paths)} frames missing in {rec.frame_dir}: frames {number_ranges(missing)} (e.g. {example})"
            plan.missing_frames.append(Finding(rec.key, what))
        plan.files = [p for p in paths if p.is_file()]
        return plan
    try:
        every = sorted_frame_paths(rec.frame_dir)
    except MestiError as exc:  # a stray file that is no image, or a folder without frames
        plan.unreadable.append(Finding(exc.where, exc.what))
        return plan
    gaps = numbering_gaps(every)
    if gaps:
        plan.missing_frames.append(Finding(rec.key, f"{len(gaps)} frame number(s) missing in {rec.frame_dir}: {number_ranges(gaps)}"))
    try:
        plan.files = rec.frame_paths()
    except OutsideRootError as exc:
        plan.unreadable.append(Finding(exc.where, exc.what))
    except MestiError as exc:  # onset..offset reaches past the last frame
        plan.missing_frames.append(Finding(exc.where, exc.what))
    return plan


def _video_frames(path: Path) -> tuple[int, int]:
    """Decode every frame of a video: (frames decoded, frames its header declares), or :class:`MestiError`."""
    cap = open_video(path)
    try:
        declared = declared_frames(cap)
        n = 0
        while cap.grab():
            if not cap.retrieve()[0]:
                raise MestiError(path, f"frame {n} cannot be decoded")
            n += 1
    finally:
        cap.release()
    if n == 0:
        raise MestiError(path, "the video holds no frames")
    return n, declared


def _decode(plan: _Plan) -> _Plan:
    """Decode a plan's files, adding what cannot be read (or does not fit) to the plan."""
    rec = plan.record
    if not plan.files:
        return plan
    if rec.kind == "video":
        try:
            n, declared = _video_frames(rec.frame_dir)
        except MestiError as exc:
            plan.unreadable.append(Finding(exc.where, exc.what))
            return plan
        short = truncation(n, declared)
        if short is not None:
            plan.missing_frames.append(Finding(rec.key, f"{rec.frame_dir.name}: {short}"))
        if rec.offset_frame is not None and rec.offset_frame >= n:
            plan.missing_frames.append(Finding(rec.key, f"offset {rec.offset_frame} is beyond the {n} frames of {rec.frame_dir}"))
        return plan
    first: tuple[Path, tuple[int, ...]] | None = None
    for path in plan.files:
        try:
            shape = read_image(path).shape
        except MestiError as exc:
            plan.unreadable.append(Finding(exc.where, exc.what))
            continue
        if first is None:
            first = (path, shape)
        elif shape != first[1]:
            (w, h), (w0, h0) = shape[1::-1], first[1][1::-1]
            plan.unreadable.append(Finding(str(path), f"frame is {w}x{h}, but {first[0].name} is {w0}x{h0}"))
    return plan


def check_dataset(
    adapter: DatasetAdapter,
    *,
    decode: bool = True,
    workers: int = 4,
    hooks: Hooks | None = None,
) -> CheckReport:
    """Check a dataset copy against its sheet.

    ``decode`` reads every frame found (slow on a full copy, but a truncated JPEG is found
    only that way); ``workers`` threads decode in parallel. The stage ``check`` on
    ``hooks`` counts the frame files decoded.
    """
    records = adapter.records()
    labelled = [r for r in records if r.label is not None]
    counts = Counter(r.label for r in labelled if r.label is not None)
    report = CheckReport(
        dataset=adapter.name,
        clips=len(records),
        labelled=len(labelled),
        subjects=len({(r.dataset, r.subject) for r in records}),
        class_counts={name: counts.pop(name, 0) for name in adapter.class_names} | dict(counts),
        decoded=decode,
        issues=list(adapter.issues),
    )
    plans = [_locate(r) for r in records]
    if decode:
        total = sum(len(p.files) for p in plans)
        hooks = or_none(hooks)
        hooks.stage_started("check", total)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for plan in pool.map(_decode, plans):
                report.frames_checked += len(plan.files)
                hooks.stage_advanced("check", report.frames_checked, total)
    else:
        report.frames_checked = sum(len(p.files) for p in plans)
    for plan in plans:
        if plan.missing_clip is not None:
            report.missing_clips.append(plan.missing_clip)
        report.missing_frames += plan.missing_frames
        report.unreadable += plan.unreadable
    _check_long_videos(adapter, report, {p.record.frame_dir for p in plans if p.unreadable})
    report.extra_folders = adapter_extra_folders(adapter)
    return report


def _check_long_videos(adapter: DatasetAdapter, report: CheckReport, flagged: set[Path]) -> None:
    """A long-video adapter's videos as a whole: one the sheet names but that cannot be
    located is missing; a frame linking out of the root anywhere in a video (not only inside
    an expression, which the records cover) is unreadable, since spotting reads every frame."""
    for v in getattr(adapter, "missing_videos", ()):
        report.missing_clips.append(Finding(v.key, f"{v.missing}; its {len(v.intervals)} expression(s) unchecked"))
    videos = getattr(adapter, "videos", None)
    if not callable(videos):
        return
    try:
        listed = videos()
    except OutsideRootError as exc:  # an adapter that reads every frame to list its videos (CAS(ME)^3)
        report.unreadable.append(Finding(exc.where, exc.what))
        return
    for v in listed:
        if v.path in flagged:
            continue
        try:
            v.frame_paths()
        except OutsideRootError as exc:
            report.unreadable.append(Finding(exc.where, exc.what))
        except MestiError:  # a folder without frames: its records say so
            pass
