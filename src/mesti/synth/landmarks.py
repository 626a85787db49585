"""The 68-point face landmarks (iBUG 300-W order) the synthetic faces are anchored on.

Real photos get theirs from dlib's ``shape_predictor_68_face_landmarks`` (shipped inside the
``face_recognition_models`` wheel, so it works offline); procedural faces are drawn from
their landmarks, so they know them exactly. Points are ``(x, y)`` in pixels, image left =
the subject's right.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

JAW = np.arange(0, 17)
BROW_R = np.arange(17, 22)  # image left, outer (17) -> inner (21)
BROW_L = np.arange(22, 27)  # image right, inner (22) -> outer (26)
NOSE_BRIDGE = np.arange(27, 31)
NOSE_BASE = np.arange(31, 36)
EYE_R = np.arange(36, 42)  # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower lid
EYE_L = np.arange(42, 48)  # 42 inner corner, 43-44 upper lid, 45 outer corner, 46-47 lower lid
MOUTH_OUTER = np.arange(48, 60)  # 48 left corner, 54 right corner
MOUTH_INNER = np.arange(60, 68)
CHIN = 8
MOUTH_CORNERS = (48, 54)

_MODEL_FILE = "shape_predictor_68_face_landmarks.dat"


def face_width(points: np.ndarray) -> float:
    """Jaw width (landmark 0 to 16): the length AU amplitudes are quoted against."""
    return float(np.linalg.norm(points[16] - points[0]))


def eye_centers(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left and image-right eyes."""
    return points[EYE_R].mean(axis=0), points[EYE_L].mean(axis=0)


def landmark_model_path() -> Path | None:
    """Where the 68-point dlib model lies, found without importing its package, or ``None``.

    ``face_recognition_models`` pulls ``pkg_resources`` on import, so only its location is
    looked up.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "models" / _MODEL_FILE
    return path if path.is_file() else None


def dlib_available() -> bool:
    """Whether dlib and the 68-point model are installed (the ``face`` extra)."""
    return importlib.util.find_spec("dlib") is not None and landmark_model_path() is not None


@functools.lru_cache(maxsize=2)
def _predictor() -> tuple[object, object]:
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmark_model_path()))


def detect_landmarks(image: np.ndarray) -> np.ndarray | None:
    """68 landmarks ``(68, 2)`` float32 of the most confident face in an RGB uint8 image.

    ``None`` when dlib is missing or no face is found.
    """
    if not dlib_available():
        return None
    import dlib

    detector, predictor = _predictor()
    img = np.ascontiguousarray(image, dtype=np.uint8)
    for upsample in (0, 1):  # upsampling finds smaller faces, at 4x the time
        boxes, scores, _ = detector.run(img, upsample, 0.0)  # type: ignore[attr-defined]
        if boxes:
            break
    else:
        return None
    best = max(range(len(boxes)), key=lambda i: scores[i])
    shape = predictor(img, dlib.rectangle(boxes[best]))  # type: ignore[operator]
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
