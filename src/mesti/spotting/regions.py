"""Regions of interest on the registered face crop, placed from the reference landmarks.

Each region is a few small round patches centred on landmarks, as the optical-flow spotters
(MDMD, OF-FD) place their ROIs: brows, cheeks, mouth corners and lips, chin carry the action
units; the eyes are kept apart, for blinks only, and cut out of every other patch because
blinks are the classic false positive of spotting; the nose bridge and the forehead are the
rigid reference. No patch sits beside the nose's wings: the nose stands out of the face, and
under a turn its edge moves with a parallax that no smooth head field removes. A region's
motion is the largest mean motion vector of its patches: motion that is coherent inside a
patch (skin pulled one way) adds up, noise averages away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Regions that carry expressions.
EXPRESSION_REGIONS = ("brow_l", "brow_r", "cheek_l", "cheek_r", "mouth", "chin")
#: Every measured region: the expression regions, then the eyes (blinks) and the rigid reference.
REGIONS = (*EXPRESSION_REGIONS, "eyes", "rigid")

# (region, landmarks whose mean is the centre, offset (dx, dy) and radius in face widths)
_PATCHES: tuple[tuple[str, tuple[int, ...], tuple[float, float], float], ...] = (
    *(("brow_l", (i,), (0.0, -0.01), 0.045) for i in (17, 18, 19, 20, 21)),
    *(("brow_r", (i,), (0.0, -0.01), 0.045) for i in (22, 23, 24, 25, 26)),
    ("brow_l", (21, 22), (-0.03, -0.03), 0.04), ("brow_r", (21, 22), (0.03, -0.03), 0.04),
    ("cheek_l", (41, 48), (-0.02, 0.0), 0.06), ("cheek_l", (2, 31), (0.0, 0.0), 0.06),
    ("cheek_r", (46, 54), (0.02, 0.0), 0.06), ("cheek_r", (14, 35), (0.0, 0.0), 0.06),
    ("mouth", (48,), (0.0, 0.0), 0.045), ("mouth", (54,), (0.0, 0.0), 0.045),
    ("mouth", (50, 51, 52), (0.0, -0.01), 0.04), ("mouth", (56, 57, 58), (0.0, 0.01), 0.04),
    ("chin", (8,), (0.0, -0.09), 0.05), ("chin", (57, 8), (0.0, -0.02), 0.05),
    ("eyes", (37, 38), (0.0, 0.0), 0.03), ("eyes", (43, 44), (0.0, 0.0), 0.03),
    ("eyes", (40, 41), (0.0, 0.0), 0.025), ("eyes", (46, 47), (0.0, 0.0), 0.025),
    ("rigid", (27, 28), (0.0, 0.0), 0.04), ("rigid", (28, 29), (0.0, 0.0), 0.04),
    ("rigid", (21, 22), (0.0, -0.1), 0.04), ("rigid", (19,), (0.0, -0.1), 0.04), ("rigid", (24,), (0.0, -0.1), 0.04),
    *(("rigid", (i,), (0.12, 0.0), 0.04) for i in (0, 1, 2, 3, 4)),
    *(("rigid", (i,), (-0.12, 0.0), 0.04) for i in (12, 13, 14, 15, 16)),
    ("rigid", (5,), (0.1, -0.04), 0.04), ("rigid", (6,), (0.08, -0.06), 0.04),
    ("rigid", (11,), (-0.1, -0.04), 0.04), ("rigid", (10,), (-0.08, -0.06), 0.04),
)


def _disc(size: int, centre: np.ndarray, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= radius * radius


def _face_width(p: np.ndarray) -> float:
    return float(np.linalg.norm(p[16] - p[0]))


def eye_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The eyes with their lids (what a blink moves), as a boolean ``size x size`` mask."""
    p = np.asarray(landmarks, dtype=np.float64)
    fw = _face_width(p)
    out = np.zeros((size, size), dtype=bool)
    for idx in (range(36, 42), range(42, 48)):
        pts = p[list(idx)]
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        a, b = max(int(np.floor(x0 - 0.04 * fw)), 0), min(int(np.ceil(x1 + 0.04 * fw)), size)
        c, d = max(int(np.floor(y0 - 0.06 * fw)), 0), min(int(np.ceil(y1 + 0.03 * fw)), size)
        out[c:d, a:b] = True
    return out


@dataclass(frozen=True)
class Patches:
    """Round patches on the reference face: ``region`` names each patch's region, ``centres``
    and ``radii`` place them (crop pixels)."""

    region: tuple[str, ...]
    centres: np.ndarray  # patches x 2 (x, y)
    radii: np.ndarray  # patches
    anchors: np.ndarray  # patches x 68: each patch centre as a mean of landmarks ...
    offsets: np.ndarray  # patches x 2: ... moved by this many face widths

    def centres_on(self, landmarks: np.ndarray | None) -> np.ndarray:
        """Where the patches lie on a face with these landmarks (the reference's without any),
        so a patch follows its part of the face when the head turns."""
        if landmarks is None:
            return self.centres
        p = np.asarray(landmarks, dtype=np.float64)
        return (self.anchors @ p + self.offsets * _face_width(p)).astype(np.float32)

    def index(self, name: str) -> np.ndarray:
        """The patches of region ``name``."""
        return np.array([i for i, r in enumerate(self.region) if r == name], dtype=np.int64)


def region_patches(landmarks: np.ndarray, size: int, inside: np.ndarray | None = None) -> Patches:
    """The patches of every region on a ``size`` crop with these reference landmarks.

    ``inside`` (optional) marks crop pixels that lie inside the video frame; patches keep only
    those, and a patch left empty (a chin below the frame) is dropped, not an error.
    """
    p = np.asarray(landmarks, dtype=np.float64)
    fw = _face_width(p)
    eyes = eye_mask(p, size)
    names, centres, radii, anchors, offsets = [], [], [], [], []
    for region, idx, (dx, dy), r in _PATCHES:
        centre = p[list(idx)].mean(axis=0) + np.array([dx, dy]) * fw
        m = _disc(size, centre, r * fw)
        if region != "eyes":
            m &= ~eyes
        if inside is not None:
            m &= inside
        if m.sum() >= 4 and m.sum() >= 0.6 * np.pi * (r * fw) ** 2:
            names.append(region)
            centres.append(tuple(centre))
            radii.append(r * fw)
            a = np.zeros(68)
            a[list(idx)] = 1.0 / len(idx)
            anchors.append(a)
            offsets.append((dx, dy))
    return Patches(tuple(names), np.array(centres, dtype=np.float32).reshape(-1, 2), np.array(radii, dtype=np.float32),
                   np.array(anchors).reshape(-1, 68), np.array(offsets, dtype=np.float64).reshape(-1, 2))
