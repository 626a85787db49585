"""The ``flow`` method: training-free region-flow spotting with blinks suppressed."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import median_filter

from mesti.clips.stream import FrameStream
from mesti.spotting.motion import LAG_SECONDS, RegionMotion, region_motion
from mesti.spotting.peaks import robust_threshold, run_intervals
from mesti.spotting.regions import EXPRESSION_REGIONS
from mesti.spotting.registry import register_spotter
from mesti.spotting.result import ProgressFn, SpotResult

#: Fixed settings, chosen on a synthetic development set (another seed), never on evaluated videos.
Z = 4.0
FLOOR_PX = 0.02
FALL = 0.05
WIDEN = 0.3
BLINK_Z = 5.0


def suppress_blinks(s: np.ndarray, names: tuple[str, ...], fps: float, z: float = BLINK_Z) -> tuple[np.ndarray, np.ndarray]:
    """Brow values zeroed where the eyes move far more than the brows (a blink); returns (scores, blink mask)."""
    s = s.copy()
    eyes = np.nan_to_num(s[:, names.index("eyes")])
    brows = np.nan_to_num(s[:, [names.index("brow_l"), names.index("brow_r")]]).max(axis=1)
    base, thr = robust_threshold(eyes, z)
    blink = (eyes > thr) & (eyes - base > brows)
    pad = max(int(round(0.05 * fps)), 1)
    if blink.any():
        blink = np.convolve(blink.astype(float), np.ones(2 * pad + 1), mode="same") > 0
        for n in ("brow_l", "brow_r"):
            col = s[:, names.index(n)]
            col[blink] = np.nanmedian(col)
    return s, blink


def motion_score(motion: RegionMotion) -> np.ndarray:
    """Per-frame score: the largest expression region's motion above its own median (pixels)."""
    with warnings.catch_warnings():  # face gaps are all-nan rows: they score 0, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        s, _ = suppress_blinks(motion.symmetric(), motion.names, motion.fps)
        cols = s[:, [motion.names.index(n) for n in EXPRESSION_REGIONS]]
        cols = cols - np.nanmedian(cols, axis=0)
        # What moves every region at once (registration jitter, lighting) is no expression.
        cols = cols - np.nanmedian(cols, axis=1, keepdims=True)
        score = np.nanmax(np.where(np.isnan(cols), -np.inf, cols), axis=1).clip(min=0)
    # A frame or two of misregistration is no expression (the shortest lasts 0.2 s).
    return median_filter(score, size=max(int(round(0.065 * motion.fps)) * 2 + 1, 3), mode="nearest")


@register_spotter("flow")
class FlowSpotter:
    """Optical flow (DIS) in landmark regions, head motion removed, blinks suppressed, threshold from the video's statistics.

    ``FlowSpotter(z=4, floor=0.02, fall=0.05, widen=0.3, lag_seconds=4.2)``: a frame is
    spotted when its score exceeds median + z * MAD of the video (at least ``floor`` px above
    the median); each run is widened to ``fall`` of its peak height, then by ``widen`` of
    its length; micro when it lasts <= 0.5 s.
    """

    name = "flow"

    def __init__(
        self, z: float = Z, floor: float = FLOOR_PX, fall: float = FALL, widen: float = WIDEN, lag_seconds: float = LAG_SECONDS
    ) -> None:
        self.z, self.floor, self.fall, self.widen = float(z), float(floor), float(fall), float(widen)
        self.lag_seconds = float(lag_seconds)

    @property
    def settings(self) -> dict[str, object]:
        return {"z": self.z, "floor_px": self.floor, "fall": self.fall, "widen": self.widen, "lag_seconds": self.lag_seconds}

    def decide(self, motion: RegionMotion) -> SpotResult:
        """Intervals from measured region motion (no pixels needed)."""
        score = motion_score(motion)
        base, thr = robust_threshold(score, self.z, self.floor)
        fps = motion.fps
        found = run_intervals(score, thr, base, fps, self.fall, max(int(round(0.1 * fps)), 1), max(int(round(0.1 * fps)), 2), self.widen)
        return SpotResult(motion.video, self.name, fps, motion.frames, found, score, thr, self.settings,
                          motion.gaps, motion.frames_held)

    def spot(self, stream: FrameStream, progress: ProgressFn | None = None) -> SpotResult:
        return self.decide(region_motion(stream, self.lag_seconds, progress=progress))
