"""Reference frames chosen by head pose.

A frame is compared with references seconds away (:mod:`mesti.spotting.motion`). When the head
has turned and come back, or is held turned, every reference at a fixed lag can hold another
pose, and what the head-motion removal leaves of a turn out of the image plane reads as an
expression. So each frame also gets references chosen among the frames its window holds by
how near their pose is to its own: a pose is the registered face's jaw sides, nose and eye
corners about their mean (landmarks no expression moves much); two frames' pose gap is the
root mean square distance of those points (crop px).

Two choices per side serve the two kinds of expression. A micro-expression (at most 0.5 s)
needs the reference nearest in pose, however near in time (at least :data:`MATCH_MIN_SECONDS`
away, so it is not the expression itself); a macro-expression (up to 4 s) needs the farthest
frame whose pose is as near as the landmarks' jitter can tell (:data:`MATCH_TOLERANCE`), so
the reference is not inside the expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Landmarks that place the head's pose: the jaw's sides, the nose, the eye corners.
POSE_POINTS = np.array([0, 1, 2, 3, 4, 12, 13, 14, 15, 16, 27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])
#: A pose-chosen reference is at least this far from its frame (longer than a micro-expression).
MATCH_MIN_SECONDS = 0.6
#: Pose gaps (px on the 128 px crop) this close to the best are equal: the landmarks' jitter.
MATCH_TOLERANCE = 0.3


def pose_descriptor(points: np.ndarray) -> np.ndarray:
    """The pose landmarks about their mean (``len(POSE_POINTS) x 2``, crop px)."""
    p = np.asarray(points, dtype=np.float32)[POSE_POINTS]
    return p - p.mean(axis=0)


@dataclass(frozen=True)
class Choice:
    """The frames chosen as references: ``nearest`` in pose, and the ``farthest`` in time among
    those whose pose is as near within :data:`MATCH_TOLERANCE`; ``None`` when no frame has a pose."""

    nearest: int | None
    farthest: int | None


class PoseRing:
    """The pose descriptors of the last ``size`` frames, by frame number (``nan`` where no face)."""

    def __init__(self, size: int) -> None:
        self.ring = np.full((size, len(POSE_POINTS), 2), np.nan, dtype=np.float32)

    def push(self, frame: int, desc: np.ndarray | None) -> None:
        self.ring[frame % len(self.ring)] = np.nan if desc is None else desc

    def get(self, frame: int) -> np.ndarray:
        return self.ring[frame % len(self.ring)]

    def gaps(self, desc: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Pose gap (px) of ``desc`` to each of ``frames`` (``inf`` where a frame has no pose)."""
        g = np.sqrt(((self.ring[frames % len(self.ring)] - desc) ** 2).sum(axis=2).mean(axis=1))
        return np.where(np.isnan(g), np.inf, g)

    def gap(self, a: int, b: int) -> float:
        """Pose gap (px) of two held frames (``inf`` when either has no pose)."""
        return float(self.gaps(self.get(a), np.array([b]))[0])

    def choose(self, frame: int, frames: np.ndarray) -> Choice:
        """The references for ``frame`` among ``frames`` (ordered farthest from it first)."""
        desc = self.get(frame)
        if len(frames) == 0 or np.isnan(desc).any():
            return Choice(None, None)
        g = self.gaps(desc, frames)
        if not np.isfinite(g).any():
            return Choice(None, None)
        best = float(g.min())
        return Choice(int(frames[int(np.argmin(g))]), int(frames[int(np.argmax(g <= best + MATCH_TOLERANCE))]))
