"""What spotting one video gives: intervals, the per-frame score behind them, and how it went."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mesti.clips.intervals import Interval

#: ``progress(frames_done, frames_total)``.
ProgressFn = Callable[[int, int], None]


@dataclass
class SpotResult:
    """Spotted intervals of one video with the score they came from.

    ``score`` has one value per frame (``nan`` where undefined, such as face gaps);
    ``threshold`` is the line the score had to cross, ``settings`` the fixed method
    settings; ``gaps`` are ``(first, last)`` frame ranges without a face; ``frames_held``
    the most decoded or registered frames held in memory at once; ``notes`` what the user
    must hear about the video (it decoded short: a truncated file).
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
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """Everything to tell the user: the notes, then each stretch without a face."""
        return [*self.notes, *self.gap_warnings()]

    def gap_warnings(self) -> list[str]:
        """One line per stretch without a face, in frames and seconds."""
        return [f"{self.video}: no face in frames {a}-{b} ({a / self.fps:.2f}-{(b + 1) / self.fps:.2f} s)"
                for a, b in self.gaps]
