"""Intervals of a long video: an expression (or a spotted candidate) from onset to offset.

Frames are 0-based positions in the video, both ends inclusive (the MEGC convention);
seconds are derived from the frame rate. Micro-expressions last at most 0.5 s.
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

    def seconds(self, fps: float) -> dict[str, float]:
        """Onset, apex and offset in seconds (frame ``i`` starts at ``i / fps``)."""
        return {"onset_s": self.onset / fps, "apex_s": self.apex / fps, "offset_s": (self.offset + 1) / fps}

    def to_json(self, fps: float) -> dict[str, object]:
        return {**asdict(self), **{k: round(v, 4) for k, v in self.seconds(fps).items()}}
