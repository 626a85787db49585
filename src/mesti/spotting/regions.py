"""Regions of interest on the registered face crop, placed from the reference landmarks.

Brows, cheeks, mouth and chin carry the action units; the nose bridge is the rigid
reference whose motion is subtracted (residual head motion); the eyes are kept apart, for
blink detection only, and cut out of every other region because blinks are the classic
false positive of spotting.
"""

from __future__ import annotations

import numpy as np


#: Regions that carry expressions (masks are built in this order).
EXPRESSION_REGIONS = ("brow_l", "brow_r", "cheek_l", "cheek_r", "mouth", "chin")


def _box(size: int, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    a, b = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)), size)
    c, d = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)), size)
    mask[c:d, a:b] = True
    return mask


def _around(size: int, pts: np.ndarray, pad_x: float, pad_y: float, up: float = 0.0) -> np.ndarray:
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    return _box(size, x0 - pad_x, y0 - pad_y - up, x1 + pad_x, y1 + pad_y)


def region_masks(landmarks: np.ndarray, size: int, inside: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Boolean ``size x size`` masks: the expression regions, ``nose`` and ``eyes``.

    ``inside`` (optional) marks crop pixels that lie inside the video frame; regions keep
    only those. A region left empty (a chin below the frame) is dropped, not an error.
    """
    p = np.asarray(landmarks, dtype=np.float64)
    fw = float(np.linalg.norm(p[16] - p[0]))  # jaw width
    eyes = _around(size, p[36:42], 0.05 * fw, 0.04 * fw, up=0.03 * fw) | _around(size, p[42:48], 0.05 * fw, 0.04 * fw, up=0.03 * fw)
    masks = {
        "brow_l": _around(size, p[17:22], 0.03 * fw, 0.03 * fw, up=0.08 * fw),
        "brow_r": _around(size, p[22:27], 0.03 * fw, 0.03 * fw, up=0.08 * fw),
        "cheek_l": _around(size, p[[1, 2, 3, 31, 41]], 0.0, 0.02 * fw),
        "cheek_r": _around(size, p[[13, 14, 15, 35, 46]], 0.0, 0.02 * fw),
        "mouth": _around(size, p[48:68], 0.06 * fw, 0.04 * fw),
        "chin": _around(size, p[[6, 7, 8, 9, 10, 57]], 0.0, 0.0),
    }
    for name in EXPRESSION_REGIONS:
        masks[name] &= ~eyes
    masks["nose"] = _around(size, p[27:30], 0.05 * fw, 0.0) & ~eyes
    masks["eyes"] = eyes
    if inside is not None:
        masks = {name: m & inside for name, m in masks.items()}
    return masks
