"""Frames of spotted intervals, read from the stream in one pass without holding the video.

A long video cannot be held in memory, so after spotting the stream is read once more and
only the frames of the interval(s) open at the current position are kept; each interval is
handed over as soon as its offset frame is read, and reading stops after the last offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from mesti.clips.intervals import Interval


class IntervalFrames:
    """Iterate ``(index, frames)`` for each interval (``frames`` is onset..offset, T x H x W x 3).

    ``max_held`` is the most frames held at once (the span of the open intervals), so a test
    or a user can check that the reader never held more than the longest interval.
    """

    def __init__(self, stream: Iterable[np.ndarray], intervals: Sequence[Interval]) -> None:
        self.stream = stream
        self.intervals = list(intervals)
        self.max_held = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if not self.intervals:
            return
        order = sorted(range(len(self.intervals)), key=lambda i: self.intervals[i].onset)
        last = max(iv.offset for iv in self.intervals)
        held: dict[int, np.ndarray] = {}  # frame position -> frame, only inside open intervals
        open_: list[int] = []
        nxt = 0
        for pos, frame in enumerate(self.stream):
            while nxt < len(order) and self.intervals[order[nxt]].onset <= pos:
                open_.append(order[nxt])
                nxt += 1
            if open_:
                held[pos] = frame
                self.max_held = max(self.max_held, len(held))
            for i in [i for i in open_ if self.intervals[i].offset == pos]:
                iv = self.intervals[i]
                open_.remove(i)
                yield i, np.stack([held[p] for p in range(iv.onset, iv.offset + 1)])
            first_needed = min((self.intervals[i].onset for i in open_), default=pos + 1)
            for p in [p for p in held if p < first_needed]:
                del held[p]
            if pos >= last:
                return
