"""From a per-frame score to intervals: thresholds from the video's own statistics, peaks, runs.

Two ways, both with fixed settings (never tuned on the evaluated videos):
- :func:`peak_intervals`: Moilanen et al. (2014) - contrast against frames k before and
  after, threshold ``mean + p (max - mean)``, peaks at least k apart, ``[peak - k, peak + k]``;
- :func:`run_intervals`: frames above a robust threshold (median + z MAD) grouped into runs,
  each widened to where the score falls back near its baseline; the type from the duration.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from mesti.clips.intervals import Interval, kind_for

_MAD_TO_SIGMA = 1.4826


def contrast(f: np.ndarray, k: int) -> np.ndarray:
    """``C_i = F_i - (F_{i-k} + F_{i+k}) / 2``, negatives set to 0 (edges use the side that exists)."""
    f = np.nan_to_num(np.asarray(f, dtype=np.float64))
    before = np.concatenate([f[:k], f[:-k]]) if 0 < k < len(f) else f
    after = np.concatenate([f[k:], f[-k:]]) if 0 < k < len(f) else f
    return np.maximum(f - (before + after) / 2, 0.0)


def moilanen_threshold(c: np.ndarray, p: float) -> float:
    """``T = mean(C) + p (max(C) - mean(C))``."""
    mean = float(np.mean(c)) if len(c) else 0.0
    return mean + p * (float(np.max(c)) - mean) if len(c) else 0.0


def peak_intervals(c: np.ndarray, k: int, threshold: float, fps: float, kind: str | None = None) -> list[Interval]:
    """Peaks of ``c`` above ``threshold`` at least ``k`` apart, each the interval ``[peak - k, peak + k]``."""
    if len(c) == 0 or not np.max(c) > 0:
        return []
    peaks, _ = find_peaks(c, height=max(threshold, 1e-12), distance=max(k, 1))
    out = []
    for p in peaks:
        lo, hi = max(int(p) - k, 0), min(int(p) + k, len(c) - 1)
        out.append(Interval(lo, int(p), hi, kind or kind_for(hi - lo + 1, fps), float(c[p])))
    return out


def robust_threshold(s: np.ndarray, z: float, floor: float = 0.0) -> tuple[float, float]:
    """``(baseline, threshold)``: the median and ``median + z * 1.4826 MAD`` (at least ``floor`` above it)."""
    s = np.nan_to_num(np.asarray(s, dtype=np.float64))
    med = float(np.median(s)) if len(s) else 0.0
    mad = float(np.median(np.abs(s - med))) * _MAD_TO_SIGMA if len(s) else 0.0
    return med, med + max(z * mad, floor)


def run_intervals(
    s: np.ndarray, threshold: float, baseline: float, fps: float, fall: float, join_frames: int, min_frames: int,
    widen: float = 0.0,
) -> list[Interval]:
    """Runs of ``s`` above ``threshold``; each widened while ``s`` stays above ``baseline +
    fall * (peak - baseline)``, then by ``widen`` of its length on each side (a score's
    low tails hide the true onset and offset); runs closer than ``join_frames`` merged;
    shorter than ``min_frames`` dropped."""
    s = np.nan_to_num(np.asarray(s, dtype=np.float64))
    above = s > threshold
    runs: list[list[int]] = []
    for i in np.flatnonzero(above):
        if runs and i - runs[-1][1] <= join_frames:
            runs[-1][1] = int(i)
        else:
            runs.append([int(i), int(i)])
    out: list[Interval] = []
    for lo, hi in runs:
        apex = lo + int(np.argmax(s[lo : hi + 1]))
        level = baseline + fall * (s[apex] - baseline)
        while lo > 0 and s[lo - 1] > level:
            lo -= 1
        while hi < len(s) - 1 and s[hi + 1] > level:
            hi += 1
        if out and lo <= out[-1].offset + join_frames:
            prev = out.pop()
            lo = prev.onset
            apex = apex if s[apex] >= s[prev.apex] else prev.apex
        pad = int(round(widen * (hi - lo + 1)))
        lo, hi = max(lo - pad, 0), min(hi + pad, len(s) - 1)
        if out and lo <= out[-1].offset:
            lo = out[-1].offset + 1
        if hi - lo + 1 >= min_frames:
            out.append(Interval(lo, apex, hi, kind_for(hi - lo + 1, fps), float(s[apex])))
    return out
