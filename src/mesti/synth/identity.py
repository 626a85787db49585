"""One subject's neutral face: a photo-derived identity or a procedural one.

Kept apart from ``faces`` (photographs) and ``procedural`` (drawn faces) so that neither of
those imports the other.
"""

from __future__ import annotations

import numpy as np

from mesti.synth.faces import FACE_FRACTION, Face, photo_face
from mesti.synth.procedural import procedural_face


def make_face(
    source: str, variant: int, seed: int, size: int, landmarks: np.ndarray | None = None, fraction: float = FACE_FRACTION
) -> Face:
    """The neutral face of one subject: a photo-derived identity or a procedural one.

    ``landmarks`` are the photo's, when already known (see :func:`photo_landmarks`);
    ``fraction`` the jaw width as a part of the frame.
    """
    rng = np.random.default_rng(seed)
    if source == "procedural":
        return procedural_face(rng, size, fraction)
    return photo_face(source, rng, size, variant, landmarks, fraction)
