"""Face tracking for long videos: detect, follow stable points, register every frame to a reference.

The face is found with the existing dlib HOG detector and 68 landmarks. Stable points (the
eye corners and the nose bridge, which neither expressions nor blinks move) are followed
from frame to frame with pyramidal Lucas-Kanade, checked forwards and backwards, and each
frame is registered to the first detection by the similarity transform from those points,
so head translation, roll and scale are not read as expression. The detector runs again at a
fixed interval (correcting drift) and whenever tracking is lost; frames without a face are
gaps, reported with their frame ranges, not a crash.

One face is tracked: the largest at the first detection, or the one ``face_index`` names
(faces numbered from the left of the frame, 0-based); at every later detection the face
nearest the tracked one is taken, so a second person in view never takes its place. How
many faces a detection saw at most is kept, for a warning.

The 68 landmarks of the registered face are measured every ``landmark_every`` frames
(dlib's shape predictor on the registered crop, at twice its size, in the reference face's
box) and held in between: the eyes' and the mouth's opening (blinks, talking) come from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from mesti.preprocessing.align import apply_matrix, face_crop_matrix
from mesti.preprocessing.detect import FaceFound, detect_dlib_all

#: Landmarks that move with neither expressions nor blinks: the eye corners and the nose bridge.
STABLE = np.array([36, 39, 42, 45, 27, 28, 29, 30])
#: Frames are tracked at most this large (longer side); SAMM's 2040 x 1088 is shrunk.
WORK_SIDE = 640
#: A tracked point is lost when tracking it back lands this far (px) from where it started.
FB_MAX_PX = 1.0
_LK = {"winSize": (21, 21), "maxLevel": 3, "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}
_UPSCALE = 2  # the shape predictor reads the registered crop at twice its size
#: Eye-corner distance (px) above which half the frame's size is enough to find the face again.
_HALF_ABOVE_OCULAR = 120.0


def _box_area(f: FaceFound) -> float:
    x0, y0, x1, y1 = f.box
    return (x1 - x0) * (y1 - y0)


@dataclass
class FaceTracker:
    """Registered grey face crops (``crop x crop`` uint8) of a stream, ``None`` for gap frames.

    ``reference`` holds the 68 landmarks of the first detection in crop coordinates (the
    regions of interest are placed on it); ``points`` the landmarks of the frame last
    yielded (crop coordinates, ``None`` in a gap or with ``landmark_every=0``); ``gaps`` the
    ``(first, last)`` frame ranges without a face; ``detections`` how often the detector ran;
    ``faces_seen`` the most faces one detection found; ``location`` where the tracked face's
    stable points were on the frame last yielded (frame pixels; ``None`` in a gap).
    """

    fps: float
    crop: int = 128
    redetect_seconds: float = 1.0
    margin: float = 0.08
    drift_fraction: float = 0.1
    face_index: int | None = None
    landmark_every: int = 1
    reference: np.ndarray | None = None
    inside: np.ndarray | None = None
    points: np.ndarray | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    detections: int = 0
    faces_seen: int = 0
    location: np.ndarray | None = None

    def _detect(self, work: np.ndarray, near: np.ndarray | None, strict: bool) -> np.ndarray | None:
        """68 landmarks of the face to track: the chosen one at the start, later the one nearest
        ``near`` (while tracking, ``strict``: none when that one is far, another person)."""
        self.detections += 1
        ocular = float(np.linalg.norm(near[0] - near[3])) if near is not None and len(near) >= 4 else 0.0
        if ocular > _HALF_ABOVE_OCULAR:  # a large face is found as well at half the size, 4 times faster
            half = cv2.resize(work, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            faces = [_refine(work, f) for f in detect_dlib_all(half, upsample=0)]
        else:
            faces = detect_dlib_all(work, upsample=1)
        if not faces:
            return None
        self.faces_seen = max(self.faces_seen, len(faces))
        if near is not None:
            centre = near.mean(axis=0)
            best = min(faces, key=lambda f: float(np.linalg.norm(f.points[STABLE].mean(axis=0) - centre)))
            # A face far from the tracked one is another person: keep tracking (or lose) ours.
            if strict and ocular and np.linalg.norm(best.points[STABLE].mean(axis=0) - centre) > 1.5 * ocular:
                return None
            return best.points.astype(np.float32)
        if self.face_index is not None:
            if self.face_index >= len(faces):
                return None
            return sorted(faces, key=lambda f: f.box[0])[self.face_index].points.astype(np.float32)
        return max(faces, key=_box_area).points.astype(np.float32)

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

    def _landmarks(self, crop: np.ndarray) -> np.ndarray | None:
        """The registered face's 68 landmarks (crop coordinates), from dlib's shape predictor."""
        import dlib

        from mesti.preprocessing.detect import _dlib_models

        assert self.reference is not None
        big = cv2.resize(crop, None, fx=_UPSCALE, fy=_UPSCALE, interpolation=cv2.INTER_LINEAR)
        (x0, y0), (x1, y1) = self.reference.min(axis=0) * _UPSCALE, self.reference.max(axis=0) * _UPSCALE
        shape = _dlib_models()[1](big, dlib.rectangle(int(x0), int(y0), int(x1), int(y1)))
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return (pts + 0.5) / _UPSCALE - 0.5

    def track(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
        """Yield one registered crop (or ``None``) per frame, holding no frame but the previous one."""
        every = max(int(round(self.redetect_seconds * self.fps)), 1)
        ref_pts: np.ndarray | None = None
        to_crop: np.ndarray | None = None
        pts: np.ndarray | None = None
        last: np.ndarray | None = None  # where the face was last seen (stable points), to pick it again
        prev: np.ndarray | None = None  # the previous frame, at the size points are followed
        half = False  # followed at half size (a large face)
        scale = 1.0
        for k, frame in enumerate(frames):
            if k == 0:
                scale = min(1.0, WORK_SIDE / max(frame.shape[:2]))
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame
            if scale < 1.0:
                grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            small = cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) if half else grey
            if pts is not None and prev is not None and prev.shape == small.shape:
                f = 0.5 if half else 1.0
                moved = _track_points(prev, small, pts * f)
                pts = None if moved is None else moved / f
            elif prev is not None and prev.shape != small.shape:
                pts = None
            if pts is None or k % every == 0:
                rgb = frame if scale == 1.0 else cv2.resize(frame, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_AREA)
                points = self._detect(rgb if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB),
                                      pts if pts is not None else last, pts is not None)
                if points is not None:
                    if ref_pts is None:
                        ref_pts = points[STABLE]
                        eyes = (points[36:42].mean(axis=0), points[42:48].mean(axis=0))
                        to_crop = face_crop_matrix(points, eyes, self.margin, self.crop)
                        self.reference = apply_matrix(to_crop, points).astype(np.float32)
                        self.inside = self._inside(to_crop, grey.shape)
                    detected = points[STABLE]
                    ocular = float(np.linalg.norm(points[36] - points[45]))
                    if pts is None or np.median(np.linalg.norm(pts - detected, axis=1)) > self.drift_fraction * ocular:
                        pts = detected
            prev = small
            m = None if pts is None or ref_pts is None else cv2.estimateAffinePartial2D(pts, ref_pts)[0]
            if m is None or to_crop is None:
                self._gap(k)
                pts = None
                self.points = self.location = None
                yield None
                continue
            last = pts
            self.location = pts / scale
            if not half and float(np.linalg.norm(pts[0] - pts[3])) > _HALF_ABOVE_OCULAR:
                half, prev = True, cv2.resize(grey, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            full = np.vstack([to_crop, [0, 0, 1]]) @ np.vstack([m, [0, 0, 1]])
            crop = cv2.warpAffine(grey, full[:2], (self.crop, self.crop), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            if self.landmark_every and (self.points is None or k % self.landmark_every == 0):
                self.points = self._landmarks(crop)
            elif not self.landmark_every:
                self.points = None
            yield crop


def _refine(work: np.ndarray, half: FaceFound) -> FaceFound:
    """A face found at half size, its landmarks measured again at full size."""
    import dlib

    from mesti.preprocessing.detect import _dlib_models

    x0, y0, x1, y1 = (2 * v for v in half.box)
    shape = _dlib_models()[1](np.ascontiguousarray(work), dlib.rectangle(int(x0), int(y0), int(x1), int(y1)))
    points = np.array([[q.x, q.y] for q in shape.parts()], dtype=np.float64)
    return FaceFound((x0, y0, x1, y1), points, None, half.detector, half.score)


def _track_points(prev: np.ndarray, grey: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    """The points followed into ``grey``, or ``None`` when most are lost (checked forwards and
    backwards: a point that does not come back where it started is lost, as on a frame where the
    face has gone)."""
    p0 = pts.reshape(-1, 1, 2).astype(np.float32)
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, grey, p0, None, **_LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(grey, prev, nxt, None, **_LK)
    good = st.reshape(-1).astype(bool) & st2.reshape(-1).astype(bool)
    good &= np.linalg.norm((back - p0).reshape(-1, 2), axis=1) < FB_MAX_PX
    return nxt.reshape(-1, 2) if good.mean() >= 0.8 else None
