"""Encoded images as pictures: float arrays to 8-bit PNGs, written atomically."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mesti.utils.atomic import write_bytes


def display_uint8(image: np.ndarray, already_scaled: bool = True) -> np.ndarray:
    """An ``H x W x C`` float image on 0..255 as uint8; unscaled (raw) images get min-max first."""
    x = np.asarray(image, dtype=np.float32)
    if not already_scaled:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(x)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def write_png(path: str | os.PathLike[str], image: np.ndarray, already_scaled: bool = True) -> Path:
    """Save an ``H x W x {1,3}`` image (float 0..255 or uint8) as a PNG, atomically."""
    arr = image if image.dtype == np.uint8 else display_uint8(image, already_scaled)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return write_bytes(path, buf.getvalue())
