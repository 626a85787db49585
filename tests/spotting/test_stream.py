"""Long videos are streamed: opening reads no pixels, spotting holds a bounded window of frames."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from mesti.clips.stream import FrameStream, FrameWindow, open_stream
from mesti.errors import MestiError
from mesti.spotting.motion import region_motion
from mesti.synth.long import LongSynthResult


def test_folder_needs_fps_and_counts_frames(long_root: Path) -> None:
    folder = long_root / "SAMM_longvideos" / "001_1"
    with pytest.raises(MestiError, match="--fps"):
        open_stream(folder)
    stream = open_stream(folder, fps=30)
    assert stream.count == 360 and stream.kind == "frames" and stream.seconds == 12.0
    first = next(iter(stream))
    assert first.shape == (96, 96, 3) and first.dtype == np.uint8


def test_bad_sources_are_one_line_errors(tmp_path: Path) -> None:
    fake = tmp_path / "talk.mp4"
    fake.write_text("not a video")
    with pytest.raises(MestiError, match="cannot be opened|holds no frames"):
        open_stream(fake)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MestiError, match="no image frames"):
        open_stream(empty, fps=30)
    with pytest.raises(MestiError, match="no such file"):
        open_stream(tmp_path / "missing.avi")
    with pytest.raises(MestiError, match="must be > 0"):
        open_stream(empty, fps=0)


def test_video_file_rate_comes_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (32, 24))
    for i in range(10):
        writer.write(np.full((24, 32, 3), i * 20, np.uint8))
    writer.release()
    stream = open_stream(path)
    assert stream.fps == 25.0 and stream.kind == "video"
    assert sum(1 for _ in stream) == 10
    assert open_stream(path, fps=200).fps == 200.0


def test_frame_window_holds_at_most_its_size() -> None:
    w: FrameWindow[int] = FrameWindow(3)
    for i in range(100):
        w.push(i)
    assert len(w) == 3 and w.max_held == 3 and (w[0], w[-1]) == (97, 99)


@dataclass
class _Watched:
    """A stream that counts how many of its decoded frames are still alive anywhere."""

    inner: FrameStream
    alive: int = 0
    most_alive: int = 0

    @property
    def fps(self) -> float:
        return self.inner.fps

    @property
    def count(self) -> int:
        return self.inner.count

    @property
    def source(self) -> Path:
        return self.inner.source

    def _gone(self) -> None:
        self.alive -= 1

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.inner:
            self.alive += 1
            self.most_alive = max(self.most_alive, self.alive)
            weakref.finalize(frame, self._gone)
            yield frame
            del frame


def test_spotting_never_holds_the_video(long_set: LongSynthResult) -> None:
    folder = long_set.path / "SAMM_longvideos" / "001_1"
    watched = _Watched(open_stream(folder, fps=30))
    motion = region_motion(watched, lag_seconds=1.0)  # type: ignore[arg-type]
    assert motion.frames == 360
    # The decoded frame in hand, plus the previous one still named by a generator of the chain.
    assert watched.most_alive <= 3
    assert motion.frames_held == 41  # registered crops: the longer lag (1.35 x 30 frames) plus the current one
    paths = sorted(folder.iterdir())
    half = _Watched(FrameStream(folder, 30.0, 180, "frames", paths[:180]))
    shorter = region_motion(half, lag_seconds=1.0)  # type: ignore[arg-type]
    assert shorter.frames == 180
    assert (half.most_alive, shorter.frames_held) == (watched.most_alive, motion.frames_held)
