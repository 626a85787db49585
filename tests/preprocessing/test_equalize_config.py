"""Luminance equalisation (per frame / per clip) and the settings fingerprint."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mesti.errors import MestiError
from mesti.preprocessing import PreprocessConfig, equalization_lut, equalize_frames
from tests.preprocessing.faces import small_face


def test_lut_matches_opencv_equalize_hist() -> None:
    gray = cv2.cvtColor(small_face(64), cv2.COLOR_RGB2GRAY)
    assert np.array_equal(cv2.LUT(gray, equalization_lut(gray)), cv2.equalizeHist(gray))


def test_flat_image_is_left_alone() -> None:
    flat = np.full((8, 8), 77, dtype=np.uint8)
    assert np.array_equal(cv2.LUT(flat, equalization_lut(flat)), flat)


def test_equalising_luminance_spreads_it_and_keeps_grey_grey() -> None:
    face = (small_face(64).astype(np.int32) // 2 + 40).astype(np.uint8)  # low contrast
    grey = np.repeat(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    out = equalize_frames(np.stack([face, grey]), "frame")
    y = cv2.cvtColor(out[0], cv2.COLOR_RGB2YCrCb)[..., 0]
    assert y.min() < 10 and y.max() > 245
    assert np.abs(out[1].astype(int) - out[1][..., :1].astype(int)).max() <= 1  # still grey


def test_clip_mode_keeps_a_brightness_change_that_frame_mode_removes() -> None:
    """Per-frame tables re-normalise each frame; one table from the onset keeps real changes."""
    a = small_face(48)
    b = np.clip(a.astype(np.int32) + 12, 0, 255).astype(np.uint8)
    frames = np.stack([a, b])
    per_frame = equalize_frames(frames, "frame")
    per_clip = equalize_frames(frames, "clip", reference=0)
    diff_frame = np.abs(per_frame[1].astype(int) - per_frame[0].astype(int)).mean()
    diff_clip = np.abs(per_clip[1].astype(int) - per_clip[0].astype(int)).mean()
    assert diff_frame < 3 < diff_clip
    assert np.array_equal(per_clip[0], per_frame[0])  # the reference frame is treated the same
    assert equalize_frames(frames, "off") is frames


def test_fingerprint_follows_only_settings_that_change_output() -> None:
    base = PreprocessConfig()
    assert base.fingerprint() == PreprocessConfig().fingerprint()
    assert base.fingerprint() != PreprocessConfig(size=112).fingerprint()
    assert base.fingerprint() != PreprocessConfig(margin=0.3).fingerprint()
    assert base.fingerprint() != PreprocessConfig(equalize="clip").fingerprint()
    none = PreprocessConfig(face="none")
    # Without face finding, margin and alignment do nothing, so they must not split caches.
    assert none.fingerprint() == PreprocessConfig(face="none", margin=0.4, align=False, upsample=0).fingerprint()
    assert PreprocessConfig(equalize=False).equalize == "off"


@pytest.mark.parametrize("kwargs", [{"face": "mtcnn"}, {"equalize": "global"}, {"size": 4}, {"margin": -0.1}])
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(MestiError):
        PreprocessConfig(**kwargs)  # type: ignore[arg-type]
