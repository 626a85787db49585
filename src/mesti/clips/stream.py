"""Long videos as a stream: one frame at a time, memory constant in the video's length.

A SAMM long video is about two minutes of 2040 x 1088 frames at 200 fps: it cannot be held
whole, so spotting reads it frame by frame from a video file (anything OpenCV opens) or a
folder of naturally sorted frames, and keeps only a bounded window (:class:`FrameWindow`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np

from mesti.clips.io import IMAGE_SUFFIXES, open_video, read_image, sorted_frame_paths, truncation
from mesti.errors import MestiError
from mesti.utils.ranges import FPS

T = TypeVar("T")


@dataclass
class FrameStream:
    """A long video read lazily: iterate for ``H x W x 3`` uint8 RGB frames in order.

    ``count`` is exact for a frame folder and the container's own figure for a video file
    (OpenCV's count can be off by a few frames; iteration is the truth). Nothing is decoded
    until iteration starts, and each frame is dropped by the stream once yielded.
    ``decoded`` is the number of frames the last complete iteration read (``None`` before).
    """

    source: Path
    fps: float
    count: int
    kind: str  # "video" or "frames"
    _paths: list[Path] | None = None
    decoded: int | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order; a frame whose size differs from the first is refused, naming it
        (spotting compares each frame with earlier ones, pixel for pixel)."""
        first: tuple[int, ...] | None = None
        for i, frame in enumerate(self._frames()):
            if first is None:
                first = frame.shape
            elif frame.shape != first:
                where = self._paths[i] if self._paths is not None else f"{self.source} frame {i}"
                raise MestiError(where, f"a frame of {frame.shape[1]} x {frame.shape[0]} pixels in a video of "
                                        f"{first[1]} x {first[0]}: every frame of a video must have the same size")
            yield frame

    def _frames(self) -> Iterator[np.ndarray]:
        if self._paths is not None:
            for p in self._paths:
                yield read_image(p)
            self.decoded = len(self._paths)
            return
        cap = open_video(self.source)
        try:
            n = 0
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                n += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()
        if n == 0:
            raise MestiError(self.source, "the video holds no frames")
        self.decoded = n

    def truncation(self) -> str | None:
        """After a complete read: why the video is suspect when fewer frames decoded than its
        header declares (a truncated or damaged file), else ``None``."""
        if self.kind != "video" or self.decoded is None:
            return None
        short = truncation(self.decoded, self.count)
        return f"{self.source.name}: {short}" if short else None

    @property
    def seconds(self) -> float:
        return self.count / self.fps


def open_stream(source: str | Path, fps: float | None = None) -> FrameStream:
    """Open a long video (file or frame folder) without reading its pixels.

    ``fps`` is required for a frame folder (a folder has no frame rate, and guessing one
    would put every interval at the wrong time in seconds); for a file it overrides the
    container's rate. Raises :class:`MestiError` for anything that is not a readable video.
    """
    path = Path(source)
    if fps is not None:
        fps = FPS.check(fps)
    if path.is_dir():
        paths = sorted_frame_paths(path)
        if fps is None:
            raise MestiError(path, "a folder of frames has no frame rate: give it with --fps")
        return FrameStream(path, float(fps), len(paths), "frames", paths)
    if not path.is_file():
        raise MestiError(path, "no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise MestiError(path, "a single image is not a video: give the folder of frames or a video file")
    cap = open_video(path)
    try:
        ok, _ = cap.read()
        if not ok:
            raise MestiError(path, "the video holds no frames (empty or not a video)")
        rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    if fps is None:
        if not rate > 0:
            raise MestiError(path, "the file states no frame rate: give it with --fps")
        fps = FPS.check(rate, f"{path} (its stated frame rate; give the right one with --fps)")
    return FrameStream(path, float(fps), max(count, 1), "video")


class FrameWindow(Generic[T]):
    """The last ``size`` items of a stream (frames or per-frame features), and no more.

    ``max_held`` records the most items ever held at once, so tests (and users) can check
    that spotting never holds more than its window, whatever the video's length.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one item")
        self.size = size
        self._items: deque[T] = deque(maxlen=size)
        self.max_held = 0

    def push(self, item: T) -> None:
        self._items.append(item)
        self.max_held = max(self.max_held, len(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> T:
        return self._items[i]

    @property
    def full(self) -> bool:
        return len(self._items) == self.size
