"""What spotting one video gives: intervals, the per-frame score behind them, and how it went."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mesti.clips.intervals import Interval



@dataclass
class SpotResult:
    """Spotted intervals of one video with the score they came from.

    ``score`` has one value per frame (``nan`` where undefined, such as face gaps);
    ``threshold`` is the line the score had to cross, ``settings`` the fixed method
    settings; ``gaps`` are ``(first, last)`` frame ranges without a face; ``frames_held``
    the most decoded or registered frames held in memory at once; ``blinks`` and ``talking``
    the ``(first, last)`` frame ranges labelled as such (not counted as expressions);
    ``faces_seen`` the most faces one detection found (one is tracked); ``notes`` what the
    user must hear about the video (it decoded short: a truncated file).
    """

    video: str
    method: str
    fps: float
    frames: int
    intervals: list[Interval]
    score: np.ndarray
    threshold: float
    settings: dict[str, object]
    gaps: list[tuple[int, int]] = field(default_factory=list)
    frames_held: int = 0
    blinks: list[tuple[int, int]] = field(default_factory=list)
    talking: list[tuple[int, int]] = field(default_factory=list)
    faces_seen: int = 1
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """Everything to tell the user: the notes, then what the face tracking warns of."""
        return [*self.notes, *self.gap_warnings()]

    def gap_warnings(self) -> list[str]:
        """What the face tracking warns of: each stretch without a face (frames and seconds), each
        interval that touches one (the face leaving or coming back can look like an
        expression), and several faces in view."""
        out = [f"{self.video}: no face in frames {a}-{b} ({a / self.fps:.2f}-{(b + 1) / self.fps:.2f} s)"
               for a, b in self.gaps]
        for iv in self.intervals:
            crossed = [(a, b) for a, b in self.gaps if iv.onset <= b + 1 and a - 1 <= iv.offset]
            if crossed:
                a, b = crossed[0]
                out.append(f"{self.video}: the interval at frames {iv.onset}-{iv.offset} touches the face gap {a}-{b}: "
                           "it may be the face leaving or coming back, not an expression")
        if self.faces_seen > 1:
            out.append(f"{self.video}: {self.faces_seen} faces seen at once; one is tracked (the largest at the start, "
                       "or the one --face-index names, counted from the left)")
        return out
