"""Finding the face on one frame: dlib HOG + 68 landmarks, or OpenCV Haar cascades.

Both run offline: dlib's HOG detector is built into dlib, its 68-point shape predictor ships
in the ``face_recognition_models`` wheel, and the Haar cascades ship inside OpenCV. Models are
loaded once per process (prepare's workers each load their own).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mesti.errors import MestiError

#: Environment variable naming another ``shape_predictor_68_face_landmarks.dat``.
SHAPE_PREDICTOR_ENV = "MESTI_SHAPE_PREDICTOR"
_SHAPE_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"

# iBUG 68-point scheme: 36-41 is the eye on the image's left (the subject's right eye),
# 42-47 the eye on the image's right.
_IMAGE_LEFT_EYE = slice(36, 42)
_IMAGE_RIGHT_EYE = slice(42, 48)

# Haar cascade settings; part of the preprocessing code version (config.PREPROCESS_VERSION).
_HAAR_SCALE = 1.1
_HAAR_NEIGHBOURS = 5
_HAAR_MIN_FACE = 0.15  # of the frame's shorter side
_HAAR_EYE_BAND = 0.6  # eyes are searched in the upper 60 % of the face box


@dataclass(frozen=True)
class FaceFound:
    """A face on one frame, in that frame's pixel coordinates (x right, y down).

    ``points`` outline the face (68 landmarks with dlib; the face box's corners with Haar),
    ``eyes`` the image-left and image-right eye centres (``None`` when they were not found).
    """

    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    points: np.ndarray
    eyes: tuple[np.ndarray, np.ndarray] | None
    detector: str
    score: float


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3 and frame.shape[-1] == 3:
        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(frame.reshape(frame.shape[:2]))


def shape_predictor_path() -> Path:
    """Where the 68-landmark model is: ``$MESTI_SHAPE_PREDICTOR``, else the installed wheel.

    The ``face_recognition_models`` package is located, never imported (its import pulls in
    ``pkg_resources``, which recent setuptools no longer ships).
    """
    env = os.environ.get(SHAPE_PREDICTOR_ENV)
    if env:
        path = Path(env)
    else:
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or spec.origin is None:
            raise MestiError("--face dlib-hog", "the 68-landmark model is missing: pip install face-recognition-models "
                             f"(or set {SHAPE_PREDICTOR_ENV}), or use --face haar")
        path = Path(spec.origin).parent / "models" / _SHAPE_PREDICTOR_FILE
    if not path.is_file():
        raise MestiError(path, "the 68-landmark model file is missing")
    return path


@functools.lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any]:
    try:
        import dlib
    except ImportError:
        raise MestiError("--face dlib-hog", "dlib is not installed: pip install dlib-bin, or use --face haar") from None
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(shape_predictor_path()))


@functools.lru_cache(maxsize=1)
def _haar_models() -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]:
    folder = Path(cv2.data.haarcascades)  # type: ignore[attr-defined]
    face = cv2.CascadeClassifier(str(folder / "haarcascade_frontalface_default.xml"))
    eye = cv2.CascadeClassifier(str(folder / "haarcascade_eye.xml"))
    if face.empty() or eye.empty():
        raise MestiError(folder, "OpenCV's Haar cascade files are missing or unreadable")
    return face, eye


def detect_dlib_all(frame: np.ndarray, upsample: int = 1) -> list[FaceFound]:
    """Every HOG face with its 68 landmarks, highest score first (empty when none).

    Upsampling is tried from 0 up to ``upsample`` and stops at the first level that finds a
    face, so large faces are found at full speed and small ones still found.
    """
    detector, predictor = _dlib_models()
    image = np.ascontiguousarray(frame if frame.ndim == 3 and frame.shape[-1] == 3 else _gray(frame))
    for level in range(upsample + 1):
        rects, scores, _ = detector.run(image, level, 0.0)
        if len(rects):
            out = []
            for i in np.argsort(scores)[::-1]:
                rect = rects[int(i)]
                shape = predictor(image, rect)
                points = np.array([[shape.part(j).x, shape.part(j).y] for j in range(68)], dtype=np.float64)
                eyes = (points[_IMAGE_LEFT_EYE].mean(axis=0), points[_IMAGE_RIGHT_EYE].mean(axis=0))
                box = (float(rect.left()), float(rect.top()), float(rect.right()), float(rect.bottom()))
                out.append(FaceFound(box, points, eyes, "dlib-hog", float(scores[int(i)])))
            return out
    return []


def detect_dlib(frame: np.ndarray, upsample: int = 1) -> FaceFound | None:
    """The highest-scoring HOG face with its 68 landmarks, or ``None`` (see :func:`detect_dlib_all`)."""
    found = detect_dlib_all(frame, upsample)
    return found[0] if found else None


def detect_haar(frame: np.ndarray) -> FaceFound | None:
    """The largest Haar-cascade face and, when two are found in its upper part, its eyes."""
    face_cascade, eye_cascade = _haar_models()
    gray = cv2.equalizeHist(_gray(frame))
    min_side = max(int(_HAAR_MIN_FACE * min(gray.shape)), 20)
    faces = face_cascade.detectMultiScale(gray, _HAAR_SCALE, _HAAR_NEIGHBOURS, minSize=(min_side, min_side))
    if len(faces) == 0:
        return None
    x, y, w, h = (float(v) for v in max(faces, key=lambda f: f[2] * f[3]))
    corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]])
    band = gray[int(y) : int(y + _HAAR_EYE_BAND * h), int(x) : int(x + w)]
    eyes = _haar_eyes(eye_cascade, band, x, y, w)
    return FaceFound((x, y, x + w, y + h), corners, eyes, "haar", float(w * h))


def _haar_eyes(
    cascade: cv2.CascadeClassifier, band: np.ndarray, x: float, y: float, w: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """One eye on each half of the face box (the largest on each side), else ``None``."""
    found = cascade.detectMultiScale(band, _HAAR_SCALE, _HAAR_NEIGHBOURS, minSize=(max(int(w / 10), 5),) * 2)
    centres = [(np.array([x + ex + ew / 2, y + ey + eh / 2]), ew * eh) for ex, ey, ew, eh in found]
    left = [c for c in centres if c[0][0] < x + w / 2]
    right = [c for c in centres if c[0][0] >= x + w / 2]
    if not left or not right:
        return None
    return max(left, key=lambda c: c[1])[0], max(right, key=lambda c: c[1])[0]


def find_face(frame: np.ndarray, detector: str, upsample: int = 1) -> FaceFound | None:
    """Run ``detector`` (``dlib-hog`` or ``haar``) on one ``H x W x C`` uint8 frame."""
    if detector == "dlib-hog":
        return detect_dlib(frame, upsample)
    if detector == "haar":
        return detect_haar(frame)
    raise MestiError("--face", f"no detector named {detector!r}")
