"""Every face-preprocessing setting in one frozen dataclass, and its fingerprint for caches."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from mesti.errors import MestiError

#: Bump when a change to the preprocessing code changes its output for the same settings,
#: so every cache entry built by the old code is recomputed.
PREPROCESS_VERSION = "2"  # 2: black (not repeated) border outside the frame

#: ``dlib-hog``: dlib's HOG detector + 68 landmarks (weights ship in wheels, no download);
#: ``haar``: OpenCV's Haar cascades (face + eyes), for installs without dlib;
#: ``none``: frames are already face crops (CASME II ``Cropped``): only resize.
FACE_MODES = ("dlib-hog", "haar", "none")

#: ``frame``: each frame equalised on its own (the paper's reading); ``clip``: one lookup
#: table from the onset frame applied to every frame (no frame-to-frame flicker); ``off``.
EQUALIZE_MODES = ("frame", "clip", "off")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a raw clip becomes ``size x size`` face crops, the same for every frame.

    ``margin`` widens the face box on every side by that fraction of its side (0.15: the box
    grows by 30 %). ``upsample`` is the most times dlib may upsample a frame to find a small
    face (it tries 0 first, so large faces cost nothing extra). ``equalize`` also accepts
    ``True``/``False`` for ``"frame"``/``"off"``.
    """

    face: str = "dlib-hog"
    align: bool = True
    margin: float = 0.15
    equalize: str = "frame"
    size: int = 224
    upsample: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.equalize, bool):
            object.__setattr__(self, "equalize", "frame" if self.equalize else "off")
        if self.face not in FACE_MODES:
            raise MestiError("--face", f"unknown face mode {self.face!r}; choose one of {', '.join(FACE_MODES)}")
        if self.equalize not in EQUALIZE_MODES:
            raise MestiError("--equalize", f"unknown mode {self.equalize!r}; choose one of {', '.join(EQUALIZE_MODES)}")
        if not isinstance(self.size, int) or not 8 <= self.size <= 4096:
            raise MestiError("--size", f"the output size must be an integer in 8..4096 pixels, got {self.size!r}")
        if not 0.0 <= self.margin <= 2.0:
            raise MestiError("--margin", f"the margin must lie in 0..2 (a fraction of the face box), got {self.margin}")
        if self.upsample not in (0, 1, 2, 3):
            raise MestiError("--upsample", f"dlib upsampling must be 0..3, got {self.upsample}")

    def effective(self) -> dict[str, Any]:
        """The settings that change the output; others are left out so they do not split caches.

        With ``face='none'`` no face is located, so margin, alignment and upsampling do not
        matter; Haar cascades do not upsample.
        """
        out = asdict(self)
        if self.face == "none":
            for name in ("align", "margin", "upsample"):
                out.pop(name)
        elif self.face == "haar":
            out.pop("upsample")
        out["version"] = PREPROCESS_VERSION
        return out

    def fingerprint(self) -> str:
        """A stable hex digest of :meth:`effective`, for cache keys."""
        text = json.dumps(self.effective(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
