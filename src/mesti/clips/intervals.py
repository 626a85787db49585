"""Intervals of a long video: an expression (or a spotted candidate) from onset to offset.

Frames are 0-based positions in the video, both ends inclusive (the MEGC convention);
seconds are derived from the frame rate (:func:`frame_seconds`: an interval covers the time
from the start of its onset frame to the end of its offset frame). Micro-expressions last at
most 0.5 s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The longest micro-expression, seconds (anything longer is a macro-expression).
MICRO_MAX_SECONDS = 0.5
KINDS = ("micro", "macro")
#: The kind of a labelled blink: a labelled negative, never an expression (not in :data:`KINDS`).
BLINK = "blink"


def kind_for(frames: int, fps: float) -> str:
    """``micro`` for an interval of at most 0.5 s, else ``macro``."""
    return "micro" if frames / fps <= MICRO_MAX_SECONDS + 1e-9 else "macro"


def frame_seconds(onset: int, apex: int, offset: int, fps: float) -> dict[str, float]:
    """Onset, apex and offset in seconds, the one convention of every mesti output.

    Frame ``i`` lasts from ``i / fps`` to ``(i + 1) / fps``: ``onset_s`` and ``apex_s`` are the
    starts of those frames, ``offset_s`` the end of the offset frame, so ``offset_s - onset_s``
    is the interval's duration and a one-frame interval does not last 0 s.
    """
    return {"onset_s": onset / fps, "apex_s": apex / fps, "offset_s": (offset + 1) / fps}


@dataclass(frozen=True)
class Interval:
    """``onset..offset`` inclusive 0-based frames, the apex, the type, a score and a label."""

    onset: int
    apex: int
    offset: int
    kind: str
    score: float = 1.0
    label: str = ""

    @property
    def frames(self) -> int:
        return self.offset - self.onset + 1

    def overlaps(self, other: Interval) -> bool:
        """Whether the two share at least one frame."""
        return self.onset <= other.offset and other.onset <= self.offset

    def seconds(self, fps: float) -> dict[str, float]:
        """Onset, apex and offset in seconds (:func:`frame_seconds`)."""
        return frame_seconds(self.onset, self.apex, self.offset, fps)

    def to_json(self, fps: float) -> dict[str, object]:
        return {**asdict(self), **{k: round(v, 4) for k, v in self.seconds(fps).items()}}
