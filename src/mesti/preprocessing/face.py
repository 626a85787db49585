"""A raw clip to face crops: find the face once, one transform for all frames, equalise, resize.

Order of operations, per docs/method.md, Training plus the field's usual alignment:

1. find the face and its eyes on the onset frame (dlib HOG + 68 landmarks, or Haar);
2. build one similarity transform (level the eyes, square box with a margin, scale to
   ``size``) and resample every frame through it;
3. equalise the histogram of the luminance (per frame by default).

With ``face='none'`` (releases that ship face crops) steps 1-2 are a plain resize.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.preprocessing.align import face_crop_matrix, resize_frames, warp_frames
from mesti.preprocessing.config import PreprocessConfig
from mesti.preprocessing.detect import FaceFound, find_face
from mesti.preprocessing.equalize import equalize_frames


def _as_uint8(frames: np.ndarray) -> np.ndarray:
    if frames.dtype == np.uint8:
        return frames
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


class FacePreprocessor:
    """Callable turning a :class:`Clip` into one of ``size x size`` uint8 face crops.

    The returned clip keeps onset/apex/offset and provenance; ``meta['face']`` records the
    detector, the transform and any fallback taken (e.g. Haar found no eyes), so a report
    can list what happened to each clip.
    """

    def __init__(self, config: PreprocessConfig | None = None) -> None:
        self.config = config or PreprocessConfig()

    def __repr__(self) -> str:
        return f"FacePreprocessor({self.config!r})"

    def locate(self, clip: Clip) -> FaceFound:
        """The face on the clip's onset frame; :class:`MestiError` naming the clip if none."""
        cfg = self.config
        found = find_face(_as_uint8(clip.frames[clip.onset]), cfg.face, cfg.upsample)
        if found is None:
            raise MestiError(clip.name, f"no face found on the onset frame (detector {cfg.face}); "
                             "try --face haar, or --face none if the frames are already face crops")
        return found

    def transform(self, clip: Clip) -> tuple[np.ndarray, dict[str, object]]:
        """The 2 x 3 frame-to-crop matrix for this clip and a description of how it was made."""
        cfg = self.config
        found = self.locate(clip)
        eyes = found.eyes if cfg.align else None
        notes: list[str] = []
        if cfg.align and found.eyes is None:
            notes.append(f"{found.detector} found no pair of eyes: cropped without alignment")
        matrix = face_crop_matrix(found.points, eyes, cfg.margin, cfg.size)
        info: dict[str, object] = {
            "detector": found.detector,
            "score": found.score,
            "box": [round(v, 2) for v in found.box],
            "aligned": eyes is not None,
            "matrix": np.round(matrix, 6).tolist(),
            "notes": notes,
        }
        return matrix, info

    def __call__(self, clip: Clip) -> Clip:
        cfg = self.config
        frames = _as_uint8(clip.frames)
        if cfg.face == "none":
            frames = resize_frames(frames, cfg.size)
            info: dict[str, object] = {"detector": "none", "aligned": False, "notes": []}
        else:
            matrix, info = self.transform(clip)
            frames = warp_frames(frames, matrix, cfg.size)
        frames = equalize_frames(frames, cfg.equalize, reference=clip.onset)
        info["equalize"] = cfg.equalize
        return replace(clip, frames=frames, meta={**clip.meta, "face": info})


def preprocess_clip(clip: Clip, config: PreprocessConfig | None = None) -> Clip:
    """Shorthand for ``FacePreprocessor(config)(clip)``."""
    return FacePreprocessor(config)(clip)
