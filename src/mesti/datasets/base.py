"""The clip record every dataset adapter produces, and how a record becomes a :class:`Clip`.

Adapters differ only in how they read a sheet and where frames live (tvaranka/meb's
pattern); everything after them sees :class:`ClipRecord`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from mesti.clips.clip import Clip
from mesti.clips.io import load_video, read_image, sorted_frame_paths
from mesti.errors import MestiError

RecordKind = Literal["frames", "video", "image"]


class OutsideRootError(MestiError):
    """A frame or video of a record is a link to a file outside the dataset root."""


def inside_root(paths: list[Path], root: Path | None, key: str) -> list[Path]:
    """``paths``, or :class:`OutsideRootError` (naming ``key``) for one whose real location,
    links followed, leaves ``root``: data must not choose which files the program reads.
    ``root`` ``None`` checks nothing."""
    if root is None:
        return paths
    real_root = root.resolve()
    for p in paths:
        if os.path.lexists(p) and not p.resolve().is_relative_to(real_root):
            raise OutsideRootError(key, f"{p.name} in {p.parent} links outside the dataset root {root}; refused")
    return paths


class ListedOnce:
    """The duplicate guard: each sample's files may be listed once in a sheet or manifest.

    One clip (or long video) listed twice, under two subjects or spelled two ways
    (``a.avi``, ``./a.avi``), would be trained on and tested on in the same fold. Files are
    compared by their real location, so a second spelling is caught too.
    """

    def __init__(self, what: str = "clip") -> None:
        self.what = what
        self._seen: dict[object, tuple[str, str]] = {}

    def add(self, path: Path, where: str, ref: str, subject: str, name: str | None = None, extra: tuple[object, ...] = ()) -> None:
        """Record ``path`` (with ``extra``, e.g. its onset..offset) listed at ``where`` (``ref``:
        how a later row names this one, ``"line 2"``) under ``subject``, or :class:`MestiError`
        when the same files were listed before."""
        key = (path.resolve(), *extra)
        if key in self._seen:
            first, first_subject = self._seen[key]
            under = f"under subjects {first_subject} and {subject}, " if first_subject != subject else ""
            raise MestiError(where, f"{name or path.name} is also {first}: one {self.what} listed twice "
                             f"({under}it would be trained on and tested on); remove the duplicate row")
        self._seen[key] = (ref, subject)


@dataclass(frozen=True)
class ClipRecord:
    """One annotated clip of a dataset, before any pixels are read.

    Frame numbers (``onset_frame`` ...) are the numbers in the dataset's file names, as in
    its sheet. ``frame_pattern`` builds a file name from a frame number (``"img{n}.jpg"``,
    ``"006_{n:05d}.jpg"``); ``None`` means the clip is every image in ``frame_dir`` in natural
    order (SMIC), with the apex at ``apex_frame`` or else the middle frame.
    ``label`` is the class under the chosen class set (``None``: excluded from it);
    ``emotion`` the sheet's own text. ``notes`` record sheet quirks handled for this clip.

    ``kind`` says what ``frame_dir`` points at. ``"frames"``: a folder of frames (every
    release). ``"video"``: a video file (users' manifests); frame numbers are then 0-based
    positions in the video. ``"image"``: one precomputed image (a flow or MESTI image a user
    already holds), a sample that is not a clip: read it with :meth:`load_image`. Without a
    ``frame_pattern``, ``onset_frame``/``offset_frame`` (when given) are 0-based positions in
    the naturally sorted folder, the same convention as ``mesti encode``.

    ``root`` is the dataset folder the record's files must stay in: a frame or video that
    is a link to a file outside it is refused (:meth:`frame_paths`), like a manifest path.
    """

    dataset: str
    subject: str
    clip_id: str
    emotion: str
    label: str | None
    frame_dir: Path
    onset_frame: int | None = None
    apex_frame: int | None = None
    offset_frame: int | None = None
    frame_pattern: str | None = None
    fps: float = 200.0
    action_units: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    kind: RecordKind = "frames"
    root: Path | None = None

    @property
    def key(self) -> str:
        """``dataset/subject/clip_id``: unique within a composite, used in messages and caches."""
        return f"{self.dataset}/{self.subject}/{self.clip_id}"

    def frame_paths(self) -> list[Path]:
        """The files this sample's pixels come from, in temporal order (no pixels read).

        Frames onset..offset for a frame folder; the one file for a video or an image.
        """
        if self.kind != "frames":
            return self._inside_root([self.frame_dir])
        if self.frame_pattern is None:
            paths = sorted_frame_paths(self.frame_dir)
            lo, hi = self._window(len(paths))
            return self._inside_root(paths[lo : hi + 1])
        if self.onset_frame is None or self.offset_frame is None:
            raise MestiError(self.key, "onset and offset frame numbers are needed with a frame pattern")
        return self._inside_root([self.frame_dir / self.frame_pattern.format(n=n) for n in range(self.onset_frame, self.offset_frame + 1)])

    def _inside_root(self, paths: list[Path]) -> list[Path]:
        """``paths``, or :class:`MestiError` for one whose real location (links followed) leaves ``root``."""
        return inside_root(paths, self.root, self.key)

    def load(self) -> Clip:
        """Read the frames onset..offset into a :class:`Clip` (positions relative to onset)."""
        if self.kind == "image":
            raise MestiError(self.key, "a precomputed image, not a clip: read it with load_image()")
        warnings: list[str] = []
        if self.kind == "video":
            video = load_video(self.frame_paths()[0])
            frames, warnings = video.frames, list(video.meta.get("warnings", []))
            lo, hi = self._window(len(frames))
            frames = frames[lo : hi + 1]
        else:
            frames = self._read_frames(self.frame_paths())
        n = len(frames)
        apex = (n - 1) // 2 if self.apex_frame is None else self.apex_frame - (self.onset_frame or 0)
        return Clip(
            frames=frames,
            onset=0,
            apex=apex,
            offset=n - 1,
            fps=self.fps,
            subject=self.subject,
            label=self.label,
            clip_id=self.clip_id,
            dataset=self.dataset,
            source=str(self.frame_dir),
            meta={"emotion": self.emotion, "action_units": self.action_units, "notes": list(self.notes),
                  "warnings": warnings},
        )

    def load_image(self) -> np.ndarray:
        """The ``H x W x 3`` uint8 RGB image of a ``kind="image"`` record (Pillow's bomb guard kept)."""
        if self.kind != "image":
            raise MestiError(self.key, "a clip, not a precomputed image: read it with load()")
        if not self.frame_dir.is_file():
            raise MestiError(self.key, f"missing image {self.frame_dir}")
        return read_image(self.frame_paths()[0])

    def _window(self, n: int) -> tuple[int, int]:
        """0-based onset..offset positions within ``n`` frames (a sorted folder or a video)."""
        lo = self.onset_frame or 0
        hi = n - 1 if self.offset_frame is None else self.offset_frame
        if hi >= n:
            raise MestiError(self.key, f"offset {hi} is beyond the {n} frames of {self.frame_dir}")
        return lo, hi

    def _read_frames(self, paths: list[Path]) -> np.ndarray:
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
            raise MestiError(self.key, f"missing frame(s) in {self.frame_dir}: {', '.join(missing[:3])}{more}")
        arrays = [read_image(p) for p in paths]
        shape = arrays[0].shape
        for p, a in zip(paths, arrays, strict=True):
            if a.shape != shape:
                raise MestiError(self.key, f"frame {p.name} is {a.shape[1]}x{a.shape[0]}, others {shape[1]}x{shape[0]}")
        return np.stack(arrays)
