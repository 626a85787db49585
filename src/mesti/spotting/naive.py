"""The ``naive`` method: whole-frame grey difference, no face tracking, peaks picked."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from mesti.clips.stream import FrameStream
from mesti.spotting.difference import difference_intervals, feature_difference
from mesti.spotting.registry import register_spotter
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks

#: Micro and macro intervals k, seconds (about half a typical expression of each type).
K_MICRO_S = 0.15
K_MACRO_S = 0.75
P = 0.5
SIDE = 128


@register_spotter("naive")
class NaiveSpotter:
    """Whole-frame difference: mean absolute grey change against frames k before and after, Moilanen peaks.

    ``NaiveSpotter(p=0.5)``: the floor every real method has to beat; it sees head motion,
    blinks and flicker as well as expressions.
    """

    name = "naive"

    def __init__(self, p: float = P) -> None:
        self.p = float(p)

    def _frames(self, stream: FrameStream, hooks: Hooks | None) -> Iterator[np.ndarray]:
        for n, frame in enumerate(stream, start=1):
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
            scale = SIDE / max(grey.shape)
            yield cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
            if hooks is not None and n % 100 == 0:
                hooks.stage_advanced("spot", n, stream.count)

    def spot(self, stream: FrameStream, hooks: Hooks | None = None) -> SpotResult:
        ks = {max(int(round(K_MICRO_S * stream.fps)), 1): "micro", max(int(round(K_MACRO_S * stream.fps)), 2): "macro"}
        f, held = feature_difference(self._frames(stream, hooks), list(ks), lambda a, b: float(np.abs(a - b).mean()))
        found, c, t = difference_intervals(f, ks, self.p, stream.fps)
        n = len(next(iter(f.values())))
        return SpotResult(str(stream.source), self.name, stream.fps, n, found, c, t,
                          {"p": self.p, "k_micro_s": K_MICRO_S, "k_macro_s": K_MACRO_S}, [], held)
