"""Patch motion between two registered face crops, with the head's motion taken out.

Lucas-Kanade follows five points in each landmark patch (:mod:`mesti.spotting.regions`) and
each patch keeps its mean displacement; the head's motion is found from the rigid patches
(a robust quadratic flow field by default: a turn out of the image plane is a smooth field
over the face that no similarity transform undoes) and subtracted. Light is normalised first,
so a drifting exposure or a side light does not move the texture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse

from mesti.spotting.regions import Patches

#: Lucas-Kanade window, as a multiple of a patch's diameter.
WINDOW = 2.2
#: Head motion models (see :class:`Measure`).
COMPENSATIONS = ("quadratic", "similarity", "rigid", "none")


def normalise_light(crop: np.ndarray) -> np.ndarray:
    """The crop's texture with slow light variation removed: local mean subtracted (a side light,
    a drifting exposure), contrast set to a fixed spread; uint8 for the flow."""
    x = crop.astype(np.float32)
    sigma = crop.shape[0] / 16
    hp = x - cv2.GaussianBlur(x, (0, 0), sigma)
    spread = float(hp.std()) + 1e-3
    return np.clip(128.0 + hp * (24.0 / spread), 0, 255).astype(np.uint8)


def _basis(xy: np.ndarray, size: int) -> np.ndarray:
    """Quadratic basis ``1, x, y, x^2, xy, y^2`` of points (x, y) scaled to about [-1, 1]."""
    x = xy[:, 0] / (size / 2) - 1.0
    y = xy[:, 1] / (size / 2) - 1.0
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)


def fit_quadratic(basis: np.ndarray, v: np.ndarray, iterations: int = 6) -> np.ndarray:
    """Coefficients (6 x 2) of the quadratic flow field best explaining ``v`` (samples x 2),
    robustly: least squares, then Huber and Tukey reweighting (a patch that moved on its own
    is an outlier, not part of the head)."""
    w = np.ones(len(v))
    coef = np.zeros((basis.shape[1], 2))
    ridge = 1e-4 * np.eye(basis.shape[1])
    for it in range(iterations):
        bw = basis * w[:, None]
        coef = np.linalg.solve(bw.T @ basis + ridge, bw.T @ v)
        r = np.sqrt(((v - basis @ coef) ** 2).sum(axis=1))
        s = 1.4826 * float(np.median(r)) + 0.02
        if it < 2:
            c = 1.345 * s
            w = np.where(r <= c, 1.0, c / np.maximum(r, 1e-9))
        else:
            c = 4.685 * s
            w = np.where(r < c, (1.0 - (r / c) ** 2) ** 2, 0.0)
        if (w > 0).sum() < basis.shape[1] + 2:
            break
    return coef


_AROUND = np.array([[0, 0], [0.5, 0], [-0.5, 0], [0, 0.5], [0, -0.5]], dtype=np.float32)


def _lk_points(centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Five points per patch: its centre and four at half its radius."""
    return (centres[:, None, :] + _AROUND[None] * radii[:, None, None]).reshape(-1, 2).astype(np.float32)


@dataclass
class Measure:
    """Patch motion between two registered crops, the head's motion taken out.

    ``compensation`` says how the head's motion is found from the rigid patches: ``quadratic``
    (default: a robust quadratic flow field), ``similarity`` (a similarity transform, least
    median of squares), ``rigid`` (their median vector, what OF-FD subtracts with its nose
    region) or ``none``; the others are kept for comparison (docs/spotting.md).
    """

    patches: Patches
    size: int
    compensation: str = "quadratic"

    def __post_init__(self) -> None:
        self.rigid = self.patches.index("rigid")
        n = len(self.patches.radii)
        owner = np.repeat(np.arange(n), len(_AROUND))
        self.average = sparse.csr_matrix((np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(n, len(owner)))
        win = max(int(2 * round(float(np.median(self.patches.radii)) * WINDOW) + 1) if n else 11, 7)
        self.lk = {"winSize": (win, win), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}
        self.centres = self.patches.centres

    def means(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Mean displacement of each patch from ``old`` to ``new`` (``patches x 2``; points
        Lucas-Kanade loses are left out)."""
        points = _lk_points(self.centres, self.patches.radii)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(old, new, points.reshape(-1, 1, 2), None, **self.lk)
        d = (moved.reshape(-1, 2) - points).astype(np.float64)
        ok = status.reshape(-1).astype(np.float64)
        counts = np.asarray(self.average @ ok).reshape(-1)
        return np.asarray(self.average @ (d * ok[:, None])) / np.maximum(counts, 1.0)[:, None]

    def residual(self, old: np.ndarray, new: np.ndarray, landmarks: np.ndarray | None = None
                 ) -> tuple[np.ndarray, float, np.ndarray]:
        """Each patch's displacement with the head's motion removed (``patches x 2``), the head's
        motion (root mean square over the patches, px) and its length at each patch. The
        patches are placed on ``old``'s landmarks when given (so they follow the face through a
        turn), else on the reference's."""
        self.centres = self.patches.centres_on(landmarks)
        means = self.means(old, new)
        moved = self.head(means)
        at = np.sqrt((moved**2).sum(axis=1))
        return means - moved, float(np.sqrt((at**2).mean())) if len(at) else 0.0, at

    def head(self, means: np.ndarray) -> np.ndarray:
        """The head's motion at every patch, from the rigid patches' displacements."""
        if self.compensation == "none" or len(self.rigid) == 0:
            return np.zeros_like(means)
        v = means[self.rigid]
        if self.compensation == "rigid" or len(self.rigid) < 3:
            return np.broadcast_to(np.median(v, axis=0), means.shape)
        c = self.centres.astype(np.float64)
        if self.compensation == "similarity" or len(self.rigid) < 10:  # too few for a quadratic
            m, _ = cv2.estimateAffinePartial2D(c[self.rigid].astype(np.float32), (c[self.rigid] + v).astype(np.float32),
                                               method=cv2.LMEDS)
            if m is None:
                return np.broadcast_to(np.median(v, axis=0), means.shape)
            return c @ m[:, :2].T + m[:, 2] - c
        basis = _basis(c, self.size)
        return basis @ fit_quadratic(basis[self.rigid], v)


def measure_regions(measure: Measure, old: tuple[np.ndarray, np.ndarray | None], new: np.ndarray, owners: list[np.ndarray],
             row: np.ndarray, hrow: np.ndarray) -> float:
    """Fill ``row`` with each region's largest residual patch motion from ``old`` to ``new``, and
    ``hrow`` with the head's motion at that patch; return the head's motion (rms, px)."""
    res, rms, head_at = measure.residual(old[0], new, old[1])
    mag = np.sqrt((res**2).sum(axis=1))
    for i, sel in enumerate(owners):
        if len(sel):
            j = sel[int(np.argmax(mag[sel]))]
            row[i] = mag[j]
            hrow[i] = head_at[j]
    return rms
