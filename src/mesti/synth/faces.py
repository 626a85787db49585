"""Identities: one neutral face per synthetic subject, with its 68 landmarks.

Two sources. Real photographs that ship inside installed packages and are in the public
domain (scikit-image's astronaut, Eileen Collins, NASA; matplotlib's Grace Hopper, a US Navy
photograph), used at run time from the installed package and never copied into this
repository; their landmarks come from dlib. And procedural faces drawn from random
geometry, skin, hair and texture (``procedural.py``), whose landmarks are known by
construction. Each derived
identity gets its own crop, colour and geometry warp, so two subjects differ by far more
than any micro-expression moves a face: the only label information in a clip is its motion.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mesti.synth.action_units import Mover, at, mover_field
from mesti.synth.landmarks import detect_landmarks, eye_centers, face_width

#: Jaw width as a fraction of the frame, like a face-cropped CASME II frame.
FACE_FRACTION = 0.8
#: Eye-line height as a fraction of the frame.
EYE_LINE = 0.40


@dataclass(frozen=True, eq=False)
class Face:
    """A neutral face: ``image`` ``S x S x 3`` float32 RGB on 0..255 and its ``landmarks`` (68 x 2)."""

    image: np.ndarray
    landmarks: np.ndarray
    description: str

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


# -- real photographs ---------------------------------------------------------------------


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut(), dtype=np.uint8)


def _grace_hopper() -> np.ndarray:
    from pathlib import Path

    import matplotlib
    from PIL import Image

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


#: Public-domain photographs shipped by installed packages: name -> loader.
PHOTOS: dict[str, Callable[[], np.ndarray]] = {"astronaut": _astronaut, "grace_hopper": _grace_hopper}


@functools.cache
def photo_landmarks(name: str) -> np.ndarray | None:
    """68 landmarks of photo ``name`` found by dlib, or ``None`` (file, dlib or face missing).

    Loading dlib's model takes seconds, so this runs once in the parent process and the
    points travel to the workers with their tasks.
    """
    try:
        image = PHOTOS[name]()
    except (ImportError, OSError):
        return None
    return detect_landmarks(image)


def available_photos() -> list[str]:
    """Names of the photos usable here (dlib and the landmark model are needed)."""
    return [name for name in PHOTOS if photo_landmarks(name) is not None]


def placement(rng: np.random.Generator, size: int, fraction: float = FACE_FRACTION) -> tuple[float, float, float, float]:
    """Where an identity sits in the frame: eye-midpoint x, y, jaw width (pixels), roll (rad).

    ``fraction`` is the jaw width as a part of the frame (smaller leaves the head room to move)."""
    fw = size * fraction * rng.uniform(0.9, 1.05)
    cx = size * (0.5 + rng.uniform(-0.03, 0.03))
    cy = size * (EYE_LINE + rng.uniform(-0.03, 0.03))
    return cx, cy, fw, np.deg2rad(rng.uniform(-4.0, 4.0))


def _crop_photo(
    image: np.ndarray, points: np.ndarray, rng: np.random.Generator, size: int, mirror: bool,
    fraction: float = FACE_FRACTION,
) -> tuple[np.ndarray, np.ndarray]:
    """Similarity-warp a photo so its face sits at a random placement in a ``size`` square."""
    if mirror:
        image = image[:, ::-1]
        points = points.copy()
        points[:, 0] = image.shape[1] - 1 - points[:, 0]
        points = points[_MIRROR_ORDER]
    left, right = eye_centers(points)
    mid = (left + right) / 2
    tilt = np.arctan2(right[1] - left[1], right[0] - left[0])
    cx, cy, fw, roll = placement(rng, size, fraction)
    s = fw / face_width(points)
    a = roll - tilt
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * s
    m = np.hstack([rot, (np.array([cx, cy]) - rot @ mid)[:, None]])
    src = image.astype(np.float32)
    if s < 1.0:  # anti-alias before shrinking
        src = cv2.GaussianBlur(src, (0, 0), 0.5 / s)
    out = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    return np.clip(out, 0, 255), (points @ m[:, :2].T + m[:, 2]).astype(np.float32)


def _mirror_order() -> np.ndarray:
    """Landmark permutation of a horizontally mirrored face (iBUG 68)."""
    order = list(range(68))
    pairs = [(i, 16 - i) for i in range(8)]
    pairs += [(17 + i, 26 - i) for i in range(5)]
    pairs += [(31, 35), (32, 34)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
    for a, b in pairs:
        order[a], order[b] = b, a
    return np.array(order)


_MIRROR_ORDER = _mirror_order()


def _reshape_identity(image: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A different face geometry: eyes, brows, nose, mouth and jaw moved by 5-9 % of the face width."""
    fw = face_width(points)
    size = image.shape[0]

    def part(*idx: int) -> Mover:
        d = rng.normal(size=2)
        return Mover(at(*idx), (float(d[0]), float(d[1])), 0.12, float(rng.uniform(0.4, 1.0)))

    movers = (
        part(36, 39), part(42, 45), part(19), part(24), part(30), part(51, 57),
        part(3, 4), part(12, 13), part(8),
    )
    field = mover_field(points, movers, size) * np.float32(fw * rng.uniform(0.05, 0.09))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    warped = cv2.remap(image, xs - field[..., 0], ys - field[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    moved = points + _sample(field, points)
    return np.clip(warped, 0, 255), moved.astype(np.float32)


def _sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of an ``H x W x C`` field at ``points`` (N x 2)."""
    out = [cv2.remap(field[..., c], points[:, 0:1].astype(np.float32), points[:, 1:2].astype(np.float32),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[:, 0] for c in range(field.shape[-1])]
    return np.stack(out, axis=-1)


def _recolour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another skin tone and exposure: per-channel gain, gamma and saturation."""
    x = image / 255.0
    gains = rng.uniform(0.7, 1.15, size=3) * np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.7, 1.0)])
    x = np.clip(x * gains, 0, 1) ** rng.uniform(0.7, 1.4)
    grey = x.mean(axis=-1, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.6, 1.3)
    return np.clip(x * 255.0, 0, 255).astype(np.float32)


def photo_face(
    name: str, rng: np.random.Generator, size: int, variant: int, landmarks: np.ndarray | None = None,
    fraction: float = FACE_FRACTION,
) -> Face:
    """An identity derived from photo ``name``: variant 0 is the person, later ones reshaped."""
    points = photo_landmarks(name) if landmarks is None else landmarks
    if points is None:
        raise RuntimeError(f"photo {name!r} is not available (needs the installed file, dlib and its landmark model)")
    image = PHOTOS[name]()
    mirror = variant % 2 == 1
    crop, pts = _crop_photo(image, points, rng, size, mirror, fraction)
    what = [name]
    if mirror:
        what.append("mirrored")
    if variant > 0:
        crop, pts = _reshape_identity(crop, pts, rng)
        crop = _recolour(crop, rng)
        what.append("reshaped, recoloured")
    return Face(crop.astype(np.float32), pts, ", ".join(what))
