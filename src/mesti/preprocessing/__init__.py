"""Face preprocessing: detect once per clip, align by the eyes, crop, equalise, resize."""

from mesti.preprocessing.align import eye_angle, face_crop_matrix, resize_frames, warp_frames
from mesti.preprocessing.config import EQUALIZE_MODES, FACE_MODES, PREPROCESS_VERSION, PreprocessConfig
from mesti.preprocessing.detect import FaceFound, find_face, shape_predictor_path
from mesti.preprocessing.equalize import equalization_lut, equalize_frames
from mesti.preprocessing.face import FacePreprocessor, preprocess_clip

__all__ = [
    "EQUALIZE_MODES",
    "FACE_MODES",
    "PREPROCESS_VERSION",
    "FaceFound",
    "FacePreprocessor",
    "PreprocessConfig",
    "equalization_lut",
    "equalize_frames",
    "eye_angle",
    "face_crop_matrix",
    "find_face",
    "preprocess_clip",
    "resize_frames",
    "shape_predictor_path",
    "warp_frames",
]
