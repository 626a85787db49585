"""Histogram equalisation on luminance only, per frame or with one table for the whole clip.

Equalising R, G and B separately shifts hues differently in every frame; equalising the
luminance (Y of YCrCb) and keeping the chroma keeps colours as they were. Grey frames
(SAMM, three equal channels) stay grey.
"""

from __future__ import annotations

import cv2
import numpy as np


def equalization_lut(luma: np.ndarray) -> np.ndarray:
    """The 256-entry table that spreads this image's grey levels over 0..255 (OpenCV's rule).

    A flat image maps to itself: there is nothing to spread.
    """
    hist = np.bincount(luma.ravel(), minlength=256).astype(np.float64)
    nonzero = np.flatnonzero(hist)
    total = hist.sum()
    if len(nonzero) <= 1:
        return np.arange(256, dtype=np.uint8)
    first = hist[nonzero[0]]
    cdf = np.cumsum(hist) - first
    lut = np.clip(np.rint(cdf * 255.0 / (total - first)), 0, 255)
    lut[: nonzero[0]] = 0
    return lut.astype(np.uint8)


def _split(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if frame.shape[-1] == 3:
        ycc = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YCrCb)
        return np.ascontiguousarray(ycc[..., 0]), ycc
    return np.ascontiguousarray(frame[..., 0]), None


def _apply(frame: np.ndarray, lut: np.ndarray) -> np.ndarray:
    luma, ycc = _split(frame)
    if ycc is None:
        return cv2.LUT(luma, lut)[..., None]
    ycc[..., 0] = cv2.LUT(luma, lut)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def equalize_frames(frames: np.ndarray, mode: str, reference: int = 0) -> np.ndarray:
    """Equalise ``T x H x W x C`` uint8 frames on luminance.

    ``frame``: each frame gets its own table (the paper's per-frame preprocessing).
    ``clip``: the table of frame ``reference`` (the onset) is used for every frame, so the
    mapping cannot flicker between frames; motion stays the only change.
    ``off``: frames are returned unchanged.
    """
    if mode == "off":
        return frames
    out = np.empty_like(frames)
    shared = equalization_lut(_split(frames[reference])[0]) if mode == "clip" else None
    for i, frame in enumerate(frames):
        lut = shared if shared is not None else equalization_lut(_split(frame)[0])
        out[i] = _apply(frame, lut)
    return out
