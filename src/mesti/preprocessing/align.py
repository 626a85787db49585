"""One similarity transform per clip: level the eyes, crop the face with a margin, resize.

Rotation, scale and translation are folded into a single 2 x 3 matrix, computed once from the
onset frame and applied to every frame, so all frames of a clip are resampled identically:
per-frame alignment would add jitter that rank pooling and optical flow read as motion.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Above this downscale the frame is first shrunk with area averaging, so the warp itself
# never decimates (bilinear warping at scale < ~0.75 aliases fine texture such as skin pores).
_AREA_PRESHRINK_BELOW = 0.75


def eye_angle(left: np.ndarray, right: np.ndarray) -> float:
    """Angle in degrees of the line from the image-left eye to the image-right eye (y down)."""
    dx, dy = float(right[0] - left[0]), float(right[1] - left[1])
    return math.degrees(math.atan2(dy, dx))


def _as3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``N x 2`` points mapped by a 2 x 3 affine matrix."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def face_crop_matrix(
    points: np.ndarray,
    eyes: tuple[np.ndarray, np.ndarray] | None,
    margin: float,
    size: int,
) -> np.ndarray:
    """The 2 x 3 matrix taking frame pixels to a ``size x size`` face crop.

    With ``eyes`` the frame is first rotated about the eyes' midpoint so they lie level;
    then the square around ``points`` (the box's longer side, widened by ``margin`` on each
    side) is scaled onto the output. Without ``eyes`` the crop is axis-aligned.
    """
    rotate = np.eye(3)
    if eyes is not None:
        centre = (np.asarray(eyes[0], dtype=np.float64) + np.asarray(eyes[1], dtype=np.float64)) / 2
        rotate = _as3(cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), eye_angle(*eyes), 1.0))
    moved = apply_matrix(rotate[:2], points)
    (x0, y0), (x1, y1) = moved.min(axis=0), moved.max(axis=0)
    side = max(x1 - x0, y1 - y0, 1.0) * (1.0 + 2.0 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = size / side
    # Pixel centres: output pixel i covers [i, i+1), so the crop's left edge maps to -0.5.
    to_output = np.array([[s, 0.0, -s * (cx - side / 2) - 0.5], [0.0, s, -s * (cy - side / 2) - 0.5], [0.0, 0.0, 1.0]])
    return (to_output @ rotate)[:2]


def matrix_scale(matrix: np.ndarray) -> float:
    """The uniform scale of a similarity matrix."""
    return float(math.hypot(matrix[0, 0], matrix[1, 0]))


def warp_frames(frames: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Every frame of ``T x H x W x C`` uint8 through the same matrix: ``T x size x size x C``.

    Pixels outside the frame are black. Black is the same in every frame, so it cancels in
    rank pooling and carries no flow; repeating the frame's border instead smears its edge
    pixels, which move with the face, into streaks that MESTI reads as motion. (Histogram
    equalisation is unaffected: its table ignores the count of the darkest level.)
    """
    m = np.asarray(matrix, dtype=np.float64)
    scale = matrix_scale(m)
    shrink = scale if scale < _AREA_PRESHRINK_BELOW else 1.0
    if shrink != 1.0:
        h, w = frames.shape[1:3]
        new_w, new_h = max(round(w * shrink), 1), max(round(h * shrink), 1)
        # Pixel-centre convention: x_small = (x + 0.5) * r - 0.5, per axis.
        rx, ry = new_w / w, new_h / h
        small_to_frame = np.array([[1 / rx, 0.0, 0.5 / rx - 0.5], [0.0, 1 / ry, 0.5 / ry - 0.5], [0.0, 0.0, 1.0]])
        m = (_as3(m) @ small_to_frame)[:2]
    out = np.empty((frames.shape[0], size, size, frames.shape[-1]), dtype=np.uint8)
    for i, frame in enumerate(frames):
        src = np.ascontiguousarray(frame)
        if shrink != 1.0:
            src = cv2.resize(src, (new_w, new_h), interpolation=cv2.INTER_AREA)
        warped = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[i] = warped.reshape(size, size, -1)
    return out


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames that already are face crops, resized to ``size x size`` (aspect not kept).

    Area averaging when shrinking, bilinear when enlarging.
    """
    out = np.empty((frames.shape[0], size, size, frames.shape[-1]), dtype=np.uint8)
    shrinking = frames.shape[1] * frames.shape[2] > size * size
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(np.ascontiguousarray(frame), (size, size), interpolation=interp).reshape(size, size, -1)
    return out
