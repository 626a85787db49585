"""Fixtures shared by the whole suite: small generated clips written the way datasets are."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image


def textured_frame(size: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (0..255 float), so flow and differences are well defined."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(size, size, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return 255.0 * smooth


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` translated by (dx, dy) pixels with bilinear interpolation."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def moving_clip(length: int = 12, apex: int = 5, size: int = 48, amplitude: float = 1.5, seed: int = 0) -> np.ndarray:
    """``T x H x W x 3`` uint8: a texture that drifts right up to the apex and back."""
    base = textured_frame(size, seed)
    frames = []
    for t in range(length):
        w = t / apex if t <= apex else max(0.0, 1 - (t - apex) / max(1, length - 1 - apex))
        frames.append(shifted(base, amplitude * w, 0.0))
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def write_frames(folder: Path, frames: np.ndarray, pattern: str = "img{n}.png", start: int = 1) -> Path:
    """Write frames as files named like a dataset release (1-based, not zero padded)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(folder / pattern.format(n=start + i))
    return folder


@pytest.fixture
def clip_folder(tmp_path: Path) -> Path:
    """A 12-frame clip as img1.png .. img12.png (so lexical order would scramble it)."""
    return write_frames(tmp_path / "clip", moving_clip())
