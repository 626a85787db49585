"""Region flow: how much each facial region moved, frame by frame, with head motion removed.

Frames are registered (:class:`FaceTracker`), then dense optical flow (OpenCV DIS) runs
between frame ``t - K`` and frame ``t``; the similarity motion that best explains the face's
flow (RANSAC, so local expression motion does not pull it) is subtracted as residual head
motion, and each region's value is the mean magnitude of what remains. With ``K``
longer than any expression, ``min(m(t), m(t + K))`` is the displacement of frame ``t`` from
the neutral face on both sides: an expression shows as one bump over its whole length, and
the echo an expression leaves ``K`` frames later cancels. Only ``K + 1`` registered crops
are held, whatever the video's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from mesti.clips.stream import FrameStream, FrameWindow
from mesti.errors import MestiError
from mesti.spotting.regions import EXPRESSION_REGIONS, region_masks
from mesti.spotting.result import ProgressFn
from mesti.spotting.tracking import FaceTracker

#: Longer than the longest macro-expression (4 s), so the lag spans a whole expression.
LAG_SECONDS = 4.2
CROP = 128
REGIONS = (*EXPRESSION_REGIONS, "eyes")


@dataclass
class RegionMotion:
    """Per-frame, per-region motion of one video (``frames x regions``, ``nan`` where undefined)."""

    video: str
    fps: float
    lag: int
    m: np.ndarray
    gaps: list[tuple[int, int]] = field(default_factory=list)
    frames_held: int = 0
    names: tuple[str, ...] = REGIONS

    @property
    def frames(self) -> int:
        return int(self.m.shape[0])

    def symmetric(self) -> np.ndarray:
        """``min(m(t), m(t + K))`` per region (one side where the other is outside the video or a gap)."""
        a = self.m
        b = np.full_like(a, np.nan)
        if self.lag < len(a):
            b[: len(a) - self.lag] = a[self.lag :]
        both = np.fmin(a, b)  # fmin ignores a nan on one side
        return np.where(np.isnan(a) & np.isnan(b), np.nan, both)

    def column(self, name: str) -> np.ndarray:
        return self.symmetric()[:, self.names.index(name)]


def face_samples(masks: dict[str, np.ndarray], crop: int, step: int = 4) -> np.ndarray:
    """Grid points (x, y) inside the face regions, where head motion is estimated."""
    face = np.zeros((crop, crop), dtype=bool)
    for m in masks.values():
        face |= m
    ys, xs = np.nonzero(face[::step, ::step])
    return np.stack([xs * step, ys * step], axis=1).astype(np.float32)


def remove_similarity(f: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """``f`` minus the similarity motion fitted robustly (RANSAC) to its values at ``sample``."""
    moved = sample + f[sample[:, 1].astype(int), sample[:, 0].astype(int)]
    m, _ = cv2.estimateAffinePartial2D(sample, moved, method=cv2.RANSAC, ransacReprojThreshold=0.3)
    if m is None:
        return f - np.median(f.reshape(-1, 2), axis=0)
    h, w = f.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2] - xs
    fy = m[1, 0] * xs + m[1, 1] * ys + m[1, 2] - ys
    return f - np.stack([fx, fy], axis=-1)


def _dis() -> cv2.DISOpticalFlow:
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)


def region_motion(
    stream: FrameStream, lag_seconds: float = LAG_SECONDS, crop: int = CROP, progress: ProgressFn | None = None
) -> RegionMotion:
    """Track, register and measure region flow over a whole stream (see the module docstring)."""
    lag = max(int(round(lag_seconds * stream.fps)), 1)
    tracker = FaceTracker(stream.fps, crop=crop)
    window: FrameWindow[np.ndarray | None] = FrameWindow(lag + 1)
    flow = _dis()
    rows: list[np.ndarray] = []
    masks: list[np.ndarray] | None = None
    sample: np.ndarray | None = None
    k = 0
    for k, reg in enumerate(tracker.track(stream), start=1):
        window.push(reg)
        row = np.full(len(REGIONS), np.nan, dtype=np.float32)
        if masks is None and tracker.reference is not None:
            found = region_masks(tracker.reference, crop, tracker.inside)
            masks = [found[n] for n in REGIONS]
            sample = face_samples(found, crop)
        old = window[0]
        if window.full and reg is not None and old is not None and masks is not None and sample is not None:
            f = remove_similarity(flow.calc(old, reg, None), sample)
            mag = np.sqrt((f**2).sum(-1))
            row[:] = [float(mag[m].mean()) if m.any() else np.nan for m in masks]
        rows.append(row)
        if progress is not None and k % 100 == 0:
            progress(k, stream.count)
        del reg, old
    if tracker.reference is None:
        raise MestiError(stream.source, f"no face found in any of its {k} frames")
    if progress is not None:
        progress(k, k)
    return RegionMotion(str(stream.source), stream.fps, lag, np.array(rows, dtype=np.float32).reshape(k, len(REGIONS)),
                        list(tracker.gaps), window.max_held)
