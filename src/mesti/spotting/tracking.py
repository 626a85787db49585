"""Face tracking for long videos: detect, follow rigid points, register every frame to a reference.

The face is found with the existing dlib HOG detector and 68 landmarks. Rigid points (eye
corners and nose) are followed from frame to frame with pyramidal Lucas-Kanade, and each
frame is registered to the first detection with a similarity transform from those points,
so head translation and roll are not read as expression. The detector runs again at a fixed
interval (correcting drift) and whenever tracking is lost; frames without a face are gaps,
reported with their frame ranges, not a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from mesti.preprocessing.align import apply_matrix, face_crop_matrix
from mesti.preprocessing.detect import find_face

#: Landmarks that move with neither expressions nor blinks: the nose (eye corners follow the lids).
RIGID = np.arange(27, 36)
#: Frames are tracked at most this large (longer side); SAMM's 2040 x 1088 is shrunk.
WORK_SIDE = 640
_LK = {"winSize": (21, 21), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


@dataclass
class FaceTracker:
    """Registered grey face crops (``crop x crop`` uint8) of a stream, ``None`` for gap frames.

    ``reference`` holds the 68 landmarks of the first detection in crop coordinates (the
    regions of interest are placed on it); ``gaps`` the ``(first, last)`` frame ranges
    without a face; ``detections`` how often the detector ran.
    """

    fps: float
    crop: int = 128
    redetect_seconds: float = 1.0
    margin: float = 0.08
    drift_fraction: float = 0.1
    reference: np.ndarray | None = None
    inside: np.ndarray | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    detections: int = 0

    def _detect(self, work: np.ndarray) -> np.ndarray | None:
        self.detections += 1
        found = find_face(work, "dlib-hog", upsample=1)
        return None if found is None else found.points.astype(np.float32)

    def _inside(self, to_crop: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Crop pixels well inside the frame (the frame's border, repeated, would move like no skin)."""
        ones = np.full(shape[:2], 255, dtype=np.uint8)
        warped = cv2.warpAffine(ones, to_crop, (self.crop, self.crop), flags=cv2.INTER_NEAREST, borderValue=0)
        pad = max(int(0.06 * self.crop), 1)
        return cv2.erode(warped, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8)) > 0

    def _gap(self, k: int) -> None:
        if self.gaps and self.gaps[-1][1] == k - 1:
            self.gaps[-1] = (self.gaps[-1][0], k)
        else:
            self.gaps.append((k, k))

    def track(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Yield one registered crop (or ``None``) per frame, holding no frame but the previous one."""
        every = max(int(round(self.redetect_seconds * self.fps)), 1)
        ref_pts: np.ndarray | None = None
        to_crop: np.ndarray | None = None
        pts: np.ndarray | None = None
        prev: np.ndarray | None = None
        scale = 1.0
        for k, frame in enumerate(frames):
            if k == 0:
                scale = min(1.0, WORK_SIDE / max(frame.shape[:2]))
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
            if scale < 1.0:
                grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if pts is not None and prev is not None:
                nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, grey, pts.reshape(-1, 1, 2), None, **_LK)
                good = status.reshape(-1).astype(bool)
                pts = nxt.reshape(-1, 2) if good.mean() >= 0.8 else None
            if pts is None or k % every == 0:
                rgb = frame if scale == 1.0 else cv2.resize(frame, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_AREA)
                points = self._detect(rgb if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB))
                if points is not None:
                    if ref_pts is None:
                        ref_pts = points[RIGID]
                        eyes = (points[36:42].mean(axis=0), points[42:48].mean(axis=0))
                        to_crop = face_crop_matrix(points, eyes, self.margin, self.crop)
                        self.reference = apply_matrix(to_crop, points).astype(np.float32)
                        self.inside = self._inside(to_crop, grey.shape)
                    detected = points[RIGID]
                    ocular = float(np.linalg.norm(points[36] - points[45]))
                    if pts is None or np.median(np.linalg.norm(pts - detected, axis=1)) > self.drift_fraction * ocular:
                        pts = detected
            prev = grey
            if pts is None or ref_pts is None or to_crop is None:
                self._gap(k)
                yield None
                continue
            m, _ = cv2.estimateAffinePartial2D(pts, ref_pts)
            if m is None:
                self._gap(k)
                pts = None
                yield None
                continue
            full = np.vstack([to_crop, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]])
            yield cv2.warpAffine(grey, full[:2], (self.crop, self.crop), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
