"""The ``flow`` method: training-free region-flow spotting, head motion removed, blinks and talking labelled and not counted.

Two channels: micro-expressions are spotted against references near in time and pose,
macro-expressions against references far in time (:mod:`mesti.spotting.poses`); each keeps
the intervals of its own length, and a micro interval inside a macro one is part of it. While
the head turns fast, nothing is spotted: what the removal of a turn leaves would read as an
expression.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d
from scipy.signal import find_peaks

from mesti.clips.intervals import Interval
from mesti.clips.stream import FrameStream
from mesti.spotting.motion import LAG_SECONDS, RegionMotion, region_motion
from mesti.spotting.peaks import robust_threshold, run_intervals
from mesti.spotting.regions import EXPRESSION_REGIONS
from mesti.spotting.registry import register_spotter
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks

#: Fixed settings, chosen on a synthetic development set (other seeds), never on evaluated videos.
Z = 6.0
FALL = 0.2
WIDEN = 0.3
#: A blink: the eyes' aspect ratio drops by this fraction of its running level (at least).
BLINK_DROP = 0.08
#: Talking: the mouth's motion oscillates (syllables) by this multiple of its usual spread.
TALK_Z = 3.0
#: The share of the head's own motion at a region that its removal may leave behind.
HEAD_ALLOWANCE = 0.2
#: ... where every reference lies on one side of the frame (none shares a held turn).
ONE_SIDED_ALLOWANCE = 0.5
#: A blink seen in the eyes' motion: this many MADs above its median.
BLINK_EYE_Z = 8.0
#: ... and by more than this multiple of the brows' own excess (an expression moves the brows more).
BLINK_OVER_BROWS = 1.2
#: Regions a blink moves besides the eyes, and those talking moves.
BLINK_REGIONS = ("brow_l", "brow_r", "cheek_l", "cheek_r")
TALK_REGIONS = ("mouth", "chin", "cheek_l", "cheek_r")
#: The head turns (too fast for an expression to be told from what its removal leaves) above
#: this speed, in eye distances per second, averaged over 0.1 s; the turn is widened by
#: ``TURN_WIDEN`` seconds on each side (a turn starts and settles slowly).
TURN_SPEED = 0.2
TURN_WIDEN = 0.2
#: The channels: each compares frames with its own references and keeps intervals of its kind.
CHANNELS = ("micro", "macro")


def frame_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [(int(a), int(b) - 1) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)]


def _dilate(mask: np.ndarray, pad: int) -> np.ndarray:
    if pad <= 0 or not mask.any():
        return mask
    return np.convolve(mask.astype(float), np.ones(2 * pad + 1), mode="same") > 0


def blink_mask(ear: np.ndarray, fps: float, eyes: np.ndarray | None = None, brows: np.ndarray | None = None,
               drop: float = BLINK_DROP) -> np.ndarray:
    """Frames of a blink, padded by 0.1 s: the eye aspect ratio below its running level (the
    median of the last and next second) by ``drop`` of it (and by 4 times its own noise), for
    at most 0.6 s. Where the landmarks miss one (a small face, glasses), the eyes' motion tells:
    far above its usual level, above the brows', for at most 0.6 s."""
    e = np.asarray(ear, dtype=np.float64)
    n = len(e)
    low = np.zeros(n, dtype=bool)
    if np.isfinite(e).any():
        e = np.where(np.isfinite(e), e, np.nanmedian(e))
        level = median_filter(e, size=max(int(round(2 * fps)) | 1, 3), mode="nearest")
        rel = (level - e) / np.maximum(level, 1e-6)
        noise = 1.4826 * float(np.median(np.abs(rel - np.median(rel))))
        low = rel > max(drop, 4 * noise)
    if eyes is not None and brows is not None:
        eye = np.nan_to_num(np.asarray(eyes, dtype=np.float64))
        base, thr = robust_threshold(eye, BLINK_EYE_Z)
        brow = np.nan_to_num(np.asarray(brows, dtype=np.float64))
        low |= (eye > thr) & (eye - base > BLINK_OVER_BROWS * (brow - np.median(brow)))
    out = np.zeros(n, dtype=bool)
    for a, b in frame_runs(low):
        if (b - a + 1) / fps <= 0.6:
            out[a : b + 1] = True
    return _dilate(out, max(int(round(0.1 * fps)), 1))


def talk_mask(mouth: np.ndarray, fps: float, z: float = TALK_Z) -> np.ndarray:
    """Frames of talking: the mouth opening and closing, three or more peaks of its motion at
    syllable pace (0.12-0.45 s apart) standing out of its noise. An expression moves the
    mouth once, smoothly; speech opens and closes it again and again."""
    s = np.nan_to_num(np.asarray(mouth, dtype=np.float64))
    out = np.zeros(len(s), dtype=bool)
    if len(s) < 4:
        return out
    base = float(np.median(s))
    spread = 1.4826 * float(np.median(np.abs(s - base))) + 1e-6
    peaks, _ = find_peaks(s, prominence=z * spread, distance=max(int(round(0.12 * fps)), 1))
    run = [int(peaks[0])] if len(peaks) else []
    for a, b in zip(peaks[:-1], peaks[1:], strict=True):
        if (b - a) / fps <= 0.45:
            run.append(int(b))
            continue
        if len(run) >= 3:
            out[run[0] : run[-1] + 1] = True
        run = [int(b)]
    if len(run) >= 3:
        out[run[0] : run[-1] + 1] = True
    return _dilate(out, max(int(round(0.2 * fps)), 1))


def nuisances(motion: RegionMotion) -> tuple[np.ndarray, np.ndarray]:
    """Blink and talking frames of a video (boolean per frame)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s = motion.symmetric()
        col = {n: s[:, motion.names.index(n)] for n in ("eyes", "brow_l", "brow_r", "mouth") if n in motion.names}
        brows = np.fmax(col["brow_l"], col["brow_r"]) if "brow_l" in col and "brow_r" in col else None
        blink = blink_mask(motion.signal("ear"), motion.fps, col.get("eyes"), brows)
        return blink, talk_mask(col.get("mouth", np.zeros(motion.frames)), motion.fps)


def turning(motion: RegionMotion) -> np.ndarray:
    """Frames where the head turns faster than :data:`TURN_SPEED` (boolean per frame)."""
    if motion.speed is None:
        return np.zeros(motion.frames, dtype=bool)
    width = max(int(round(0.1 * motion.fps)), 1)
    fast = uniform_filter1d(np.nan_to_num(np.asarray(motion.speed, dtype=np.float64)), width | 1) > TURN_SPEED
    pad = max(int(round(TURN_WIDEN * motion.fps)), 1)
    return maximum_filter1d(fast.astype(np.uint8), 2 * pad + 1) > 0


def region_evidence(motion: RegionMotion, masks: tuple[np.ndarray, np.ndarray] | None = None,
                    channel: str = "macro") -> np.ndarray:
    """``frames x expression regions``: each region's motion against ``channel``'s references
    above its own median, less the share of the head's motion its removal may leave, in units
    of the region's own spread; the regions a blink or talking moves read 0 there, every
    region at most 0 while the head turns (:func:`turning`)."""
    blink, talk = masks if masks is not None else nuisances(motion)
    with warnings.catch_warnings():  # face gaps are all-nan rows
        warnings.simplefilter("ignore", RuntimeWarning)
        idx = [motion.names.index(n) for n in EXPRESSION_REGIONS]
        cols = motion.symmetric(channel).astype(np.float64)[:, idx]
        head = motion.symmetric_head(channel).astype(np.float64)[:, idx]
        med = np.nanmedian(cols, axis=0)
        spread = 1.4826 * np.nanmedian(np.abs(cols - med), axis=0)
        # What a turn leaves of the head's motion grows with it: that part is allowed, more of it
        # where no reference shares the turn (references on one side only).
        allowance = np.where(motion.one_sided()[:, idx], ONE_SIDED_ALLOWANCE, HEAD_ALLOWANCE)
        cols = cols - med - allowance * head
        for i, name in enumerate(EXPRESSION_REGIONS):
            if name in BLINK_REGIONS:
                cols[blink, i] = 0.0
            if name in TALK_REGIONS:
                cols[talk, i] = 0.0
        turn = turning(motion)
        cols[turn] = np.fmin(cols[turn], 0.0)
        return cols / np.maximum(np.nan_to_num(spread, nan=1.0), 0.02)


def motion_score(motion: RegionMotion, masks: tuple[np.ndarray, np.ndarray] | None = None,
                 channel: str = "macro") -> np.ndarray:
    """Per-frame score of ``channel``: the largest region evidence (:func:`region_evidence`), 0 in face gaps."""
    return evidence_score(region_evidence(motion, masks, channel), motion.fps)


def evidence_score(cols: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame score from region evidence (``frames x regions``): the largest region, 0 in face gaps."""
    with warnings.catch_warnings():  # face gaps are all-nan rows: they score 0, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        score = np.nanmax(np.where(np.isnan(cols), -np.inf, cols), axis=1).clip(min=0)
        score[~np.isfinite(score)] = 0.0
    # A frame or two of misregistration is no expression (the shortest lasts 0.2 s).
    return median_filter(score, size=max(int(round(0.065 * fps)) * 2 + 1, 3), mode="nearest")


@register_spotter("flow")
class FlowSpotter:
    """Region flow (Lucas-Kanade in landmark patches) with head motion removed, in a micro and a macro channel; blinks (eye aspect ratio), talking and fast head turns labelled, not counted.

    ``FlowSpotter(z=6, fall=0.2, widen=0.3, lag_seconds=4.2, face_index=None)``: a frame is
    spotted when its score in a channel (each region's motion above its median, less a share of
    the head's motion there, in units of the region's own spread) exceeds ``z``; each run is
    widened to ``fall`` of its peak height, then by ``widen`` of its length; micro when it lasts
    <= 0.5 s, kept from the micro channel, macro kept from the macro channel.
    ``face_index`` picks one of several faces, counted from the left (default: the largest).
    """

    name = "flow"

    def __init__(
        self, z: float = Z, fall: float = FALL, widen: float = WIDEN, lag_seconds: float = LAG_SECONDS,
        face_index: int | None = None,
    ) -> None:
        self.z, self.fall, self.widen = float(z), float(fall), float(widen)
        self.lag_seconds = float(lag_seconds)
        self.face_index = face_index

    @property
    def settings(self) -> dict[str, object]:
        return {"z": self.z, "fall": self.fall, "widen": self.widen, "head_allowance": HEAD_ALLOWANCE,
                "one_sided_allowance": ONE_SIDED_ALLOWANCE, "turn_speed": TURN_SPEED, "turn_widen": TURN_WIDEN,
                "lag_seconds": self.lag_seconds}

    def runs(self, motion: RegionMotion, score: np.ndarray) -> list[Interval]:
        """Runs of ``score`` above ``z`` (already in units of each region's own noise), shaped."""
        fps = motion.fps
        return run_intervals(score, self.z, 0.0, fps, self.fall, max(int(round(0.1 * fps)), 1), max(int(round(0.1 * fps)), 2),
                             self.widen)

    def intervals(self, motion: RegionMotion, micro: np.ndarray, macro: np.ndarray) -> list[Interval]:
        """The micro channel's micro runs and the macro channel's macro runs; a micro run that
        overlaps a macro one is part of it. A run into the video's first or last frame is left
        out: its onset or offset is not in the video, and there every reference lies on one
        side, so a held turn is not told from an expression."""
        big = [iv for iv in self.runs(motion, macro) if iv.kind == "macro"]
        small = [iv for iv in self.runs(motion, micro) if iv.kind == "micro"
                 and not any(iv.overlaps(b) for b in big)]
        inside = [iv for iv in big + small if iv.onset > 0 and iv.offset < motion.frames - 1]
        return sorted(inside, key=lambda iv: iv.onset)

    def scores(self, motion: RegionMotion, masks: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The micro and the macro channel's per-frame scores."""
        return motion_score(motion, masks, "micro"), motion_score(motion, masks, "macro")

    def decide(self, motion: RegionMotion) -> SpotResult:
        """Intervals from measured region motion (no pixels needed)."""
        blink, talk = nuisances(motion)
        micro, macro = self.scores(motion, (blink, talk))
        found = self.intervals(motion, micro, macro)
        score = np.fmax(micro, macro)
        return SpotResult(motion.video, self.name, motion.fps, motion.frames, found, score, self.z, self.settings,
                          motion.gaps, motion.frames_held, blinks=frame_runs(blink), talking=frame_runs(talk),
                          faces_seen=motion.faces_seen)

    def spot(self, stream: FrameStream, hooks: Hooks | None = None) -> SpotResult:
        return self.decide(region_motion(stream, self.lag_seconds, hooks=hooks, face_index=self.face_index))
