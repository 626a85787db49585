"""Frames with a real face: scikit-image's astronaut (a public-domain NASA portrait, offline)."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

# Where the face is in the 512 x 512 astronaut image (dlib's box is about 175..265 x 76..166).
FACE_CENTRE = (220, 121)


def astronaut() -> np.ndarray:
    """The full 512 x 512 RGB astronaut image."""
    return data.astronaut()


def rotated(image: np.ndarray, degrees: float, centre: tuple[float, float] = FACE_CENTRE) -> np.ndarray:
    """``image`` rotated counter-clockwise by ``degrees`` about ``centre`` (border repeated)."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def translated(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by ``(dx, dy)`` pixels (border repeated)."""
    m = np.float64([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def small_face(size: int = 96, side: int = 180) -> np.ndarray:
    """A ``size x size`` frame mostly filled by the astronaut's face: cheap for dlib to find."""
    cx, cy = FACE_CENTRE
    crop = astronaut()[cy - side // 2 : cy + side // 2, cx - side // 2 : cx + side // 2]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
