"""The ``lbp`` method: the MEGC 2019/2020 baseline, LBP-histogram chi-squared feature difference.

Registered face crops (the same tracker as ``flow``) cut into a 6 x 6 block grid; each block
an LBP histogram (uniform, 8 neighbours, radius 1); per frame the mean of the M largest
block chi-squared distances to the mean of the tail and head frames (Moilanen et al., 2014).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from skimage.feature import local_binary_pattern

from mesti.clips.stream import FrameStream
from mesti.errors import MestiError
from mesti.spotting.difference import difference_intervals, feature_difference
from mesti.spotting.registry import register_spotter
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks
from mesti.spotting.tracking import FaceTracker

GRID = 6
BINS = 10  # uniform LBP with 8 neighbours
TOP_M = 12  # a third of the blocks
K_MICRO_S = 0.15
K_MACRO_S = 0.75
P = 0.5


def block_histograms(crop: np.ndarray, grid: int = GRID) -> np.ndarray:
    """``grid*grid x BINS`` normalised uniform-LBP histograms of a grey crop."""
    codes = local_binary_pattern(crop, 8, 1, method="uniform").astype(np.int64)
    h, w = codes.shape
    out = np.empty((grid * grid, BINS), dtype=np.float64)
    for i in range(grid):
        for j in range(grid):
            block = codes[i * h // grid : (i + 1) * h // grid, j * w // grid : (j + 1) * w // grid]
            hist = np.bincount(block.ravel(), minlength=BINS)[:BINS].astype(np.float64)
            out[i * grid + j] = hist / max(hist.sum(), 1.0)
    return out


def chi2_top(a: np.ndarray, b: np.ndarray, m: int = TOP_M) -> float:
    """Mean of the ``m`` largest per-block chi-squared distances (noise from single blocks cancels)."""
    d = ((a - b) ** 2 / (a + b + 1e-10)).sum(axis=1)
    return float(np.sort(d)[-m:].mean())


@register_spotter("lbp")
class LBPSpotter:
    """MEGC baseline: LBP histograms in a 6 x 6 block grid, chi-squared feature difference, Moilanen peaks.

    ``LBPSpotter(p=0.5)``: threshold ``mean + p (max - mean)`` of the contrast; the intervals k
    are 0.15 s (micro) and 0.75 s (macro) in frames of the video's rate.
    """

    name = "lbp"

    def __init__(self, p: float = P) -> None:
        self.p = float(p)

    def spot(self, stream: FrameStream, hooks: Hooks | None = None) -> SpotResult:
        tracker = FaceTracker(stream.fps)

        def features() -> Iterator[np.ndarray | None]:
            for n, crop in enumerate(tracker.track(stream), start=1):
                yield None if crop is None else block_histograms(crop)
                if hooks is not None and n % 100 == 0:
                    hooks.stage_advanced("spot", n, stream.count)

        ks = {max(int(round(K_MICRO_S * stream.fps)), 1): "micro", max(int(round(K_MACRO_S * stream.fps)), 2): "macro"}
        f, held = feature_difference(features(), list(ks), chi2_top)
        if tracker.reference is None:
            raise MestiError(stream.source, "no face found in any frame")
        found, c, t = difference_intervals(f, ks, self.p, stream.fps)
        n = len(next(iter(f.values())))
        return SpotResult(str(stream.source), self.name, stream.fps, n, found, c, t,
                          {"p": self.p, "grid": GRID, "top_m": TOP_M, "k_micro_s": K_MICRO_S, "k_macro_s": K_MACRO_S},
                          list(tracker.gaps), held)
