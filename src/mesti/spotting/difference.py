"""Feature difference (Moilanen et al., 2014), streamed: frame ``i`` against the mean of the
tail frame ``i - k`` and the head frame ``i + k``, at one or more intervals ``k``.

Only ``2 max(k) + 1`` per-frame features are held, never the video. Shared by the ``lbp``
baseline (block LBP histograms, chi-squared) and the ``naive`` whole-frame difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from mesti.clips.intervals import Interval
from mesti.clips.stream import FrameWindow
from mesti.spotting.peaks import contrast, moilanen_threshold, peak_intervals

Distance = Callable[[np.ndarray, np.ndarray], float]


def feature_difference(
    features: Iterable[np.ndarray | None], ks: Sequence[int], distance: Distance
) -> tuple[dict[int, np.ndarray], int]:
    """``F_k`` per frame for every ``k`` (``nan`` at the edges and gaps), and the most features held."""
    span = 2 * max(ks) + 1
    window: FrameWindow[np.ndarray | None] = FrameWindow(span)
    values: dict[int, list[float]] = {k: [] for k in ks}
    n = 0
    for n, feat in enumerate(features, start=1):
        window.push(feat)
        for k in ks:
            if len(window) >= 2 * k + 1:
                head, centre, tail = window[-1], window[-1 - k], window[-1 - 2 * k]
                ok = head is not None and centre is not None and tail is not None
                values[k].append(distance(centre, (head + tail) / 2) if ok else np.nan)  # type: ignore[operator]
    out = {}
    for k in ks:
        f = np.full(n, np.nan)
        f[k : k + len(values[k])] = values[k]
        out[k] = f
    return out, window.max_held


def difference_intervals(
    f: dict[int, np.ndarray], kinds: dict[int, str], p: float, fps: float
) -> tuple[list[Interval], np.ndarray, float]:
    """Contrast, threshold ``mean + p (max - mean)`` and peaks per interval ``k``; the intervals of
    every scale, the first scale's contrast and threshold (for the plot)."""
    found: list[Interval] = []
    first: tuple[np.ndarray, float] | None = None
    for k, values in f.items():
        c = contrast(values, k)
        t = moilanen_threshold(c, p)
        if first is None:
            first = (c, t)
        found += peak_intervals(c, k, t, fps, kinds[k])
    assert first is not None
    return sorted(found, key=lambda i: i.onset), first[0], first[1]
