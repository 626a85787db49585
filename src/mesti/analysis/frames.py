"""Frames of spotted intervals, read from the stream in one pass without holding the video.

A long video cannot be held in memory, so after spotting the stream is read once more and
only the interval(s) open at the current position keep frames; each interval is handed over
as soon as its offset frame is read, and reading stops after the last offset. Each frame is
cropped as it arrives (:meth:`~mesti.pipeline.Pipeline.crop_for`: the model's face crop, decided on the
interval's onset frame as preprocessing decides it), so an interval costs its length in
``size x size`` crops, not in full video frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from mesti.clips.intervals import Interval
from mesti.errors import MestiError
from mesti.pipeline import CropFactory


def _identity(frame: np.ndarray) -> np.ndarray:
    return frame


class IntervalFrames:
    """Iterate ``(index, frames, apex_frame)`` per interval: ``frames`` onset..offset (each through
    ``crop_for``), ``apex_frame`` the uncropped apex frame through ``apex_picture``.

    ``max_held`` is the most frames held at once (over every open interval), so a test or a
    user can check that the reader never held more than the intervals being read. An interval
    whose crop cannot be made (no face on its onset frame) is skipped, its reason kept in
    ``failed[index]``.
    """

    def __init__(self, stream: Iterable[np.ndarray], intervals: Sequence[Interval], crop_for: CropFactory | None = None,
                 apex_picture: Callable[[np.ndarray], np.ndarray] = _identity) -> None:
        self.stream = stream
        self.intervals = list(intervals)
        self.crop_for = crop_for or (lambda _i, _f: _identity)
        self.apex_picture = apex_picture
        self.max_held = 0
        self.failed: dict[int, str] = {}

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        if not self.intervals:
            return
        order = sorted(range(len(self.intervals)), key=lambda i: self.intervals[i].onset)
        last = max(iv.offset for iv in self.intervals)
        buffers: dict[int, list[np.ndarray]] = {}
        crops: dict[int, Callable[[np.ndarray], np.ndarray]] = {}
        apexes: dict[int, np.ndarray] = {}
        nxt = 0
        for pos, frame in enumerate(self.stream):
            while nxt < len(order) and self.intervals[order[nxt]].onset <= pos:
                i = order[nxt]
                nxt += 1
                try:
                    crops[i] = self.crop_for(i, frame)
                except MestiError as exc:
                    self.failed[i] = str(exc)
                    continue
                buffers[i] = []
            for i, buf in buffers.items():
                buf.append(crops[i](frame))
                if self.intervals[i].apex == pos:
                    apexes[i] = self.apex_picture(frame)
            self.max_held = max(self.max_held, sum(len(b) for b in buffers.values()))
            for i in [i for i in buffers if self.intervals[i].offset == pos]:
                frames = np.stack(buffers.pop(i))
                crops.pop(i)
                yield i, frames, apexes.pop(i, frames[self.intervals[i].apex - self.intervals[i].onset])
            if pos >= last:
                return
