"""Face preprocessing on a real face (the astronaut): detection, eye alignment, one transform per clip."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

import mesti.preprocessing.face as face_module
from mesti.clips import Clip
from mesti.errors import MestiError
from mesti.preprocessing import FacePreprocessor, PreprocessConfig, eye_angle, find_face
from mesti.preprocessing.align import apply_matrix, face_crop_matrix
from tests.preprocessing.faces import astronaut, rotated, translated

requires_dlib = pytest.mark.skipif(importlib.util.find_spec("dlib") is None, reason="dlib (the 'face' extra) is not installed")

# dlib's landmarks on the upright astronaut put her eyes about 3 degrees off level already,
# so the rotation a test applies is measured against that, never assumed from zero.
LEVEL_TOLERANCE_DEG = 1.5


def clip_of(*frames: np.ndarray, name: str = "astro") -> Clip:
    return Clip(frames=np.stack(frames), onset=0, apex=len(frames) // 2, offset=len(frames) - 1, clip_id=name)


@requires_dlib
@pytest.mark.parametrize("degrees", [12.0, -15.0])
def test_rotated_face_comes_out_with_level_eyes(degrees: float) -> None:
    image = rotated(astronaut(), degrees)
    before = find_face(image, "dlib-hog")
    assert before is not None and before.eyes is not None
    assert abs(eye_angle(*before.eyes)) > 8  # the test input really is tilted

    out = FacePreprocessor(PreprocessConfig(size=160, equalize="off"))(clip_of(image, image))

    assert out.frames.shape == (2, 160, 160, 3) and out.frames.dtype == np.uint8
    after = find_face(out.frames[0], "dlib-hog")
    assert after is not None and after.eyes is not None
    assert abs(eye_angle(*after.eyes)) < LEVEL_TOLERANCE_DEG
    # Eyes sit in the upper half, left and right of the centre line, at a plausible distance.
    left, right = after.eyes
    assert left[0] < 80 < right[0] and max(left[1], right[1]) < 80
    assert 0.3 < (right[0] - left[0]) / 160 < 0.6
    assert out.meta["face"]["aligned"] is True and out.meta["face"]["detector"] == "dlib-hog"


def test_crop_matrix_maps_the_eyes_onto_a_horizontal_line() -> None:
    points = np.array([[10.0, 10.0], [90.0, 50.0], [50.0, 100.0]])
    eyes = (np.array([30.0, 30.0]), np.array([70.0, 50.0]))
    m = face_crop_matrix(points, eyes, margin=0.1, size=64)
    mapped = apply_matrix(m, np.stack(eyes))
    assert mapped[0, 1] == pytest.approx(mapped[1, 1], abs=1e-9)
    assert mapped[1, 0] > mapped[0, 0]
    box = apply_matrix(m, points)
    assert box.min() >= -0.5 - 1e-9 and box.max() <= 63.5 + 1e-9  # the margin keeps the face inside


@requires_dlib
def test_one_transform_is_applied_to_every_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames shifted by known amounts keep exactly those shifts after preprocessing.

    Per-frame alignment would re-centre the face in every frame and erase the shifts (and in
    a real clip add jitter); the detector runs once, on the onset frame.
    """
    calls: list[int] = []
    real = face_module.find_face

    def counting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(face_module, "find_face", counting)
    base = rotated(astronaut(), 10.0)
    shifts = [0.0, 3.0, 6.0, 9.0]
    frames = [translated(base, dx, 0.0) for dx in shifts]
    pre = FacePreprocessor(PreprocessConfig(size=128, equalize="off"))
    out = pre(clip_of(*frames))

    assert len(calls) == 1
    matrix = np.array(out.meta["face"]["matrix"])
    g0 = cv2.cvtColor(out.frames[0], cv2.COLOR_RGB2GRAY).astype(np.float64)
    for k, dx in enumerate(shifts[1:], start=1):
        expected = matrix[:, :2] @ np.array([dx, 0.0])  # the same linear map moves every frame's content
        gk = cv2.cvtColor(out.frames[k], cv2.COLOR_RGB2GRAY).astype(np.float64)
        (sx, sy), _ = cv2.phaseCorrelate(g0, gk)
        assert sx == pytest.approx(expected[0], abs=0.35)
        assert sy == pytest.approx(expected[1], abs=0.35)
        assert np.hypot(*expected) > 1.0  # the shifts are large enough to be seen


@requires_dlib
def test_no_face_is_an_error_naming_the_clip() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, size=(2, 120, 120, 3), dtype=np.uint8)
    with pytest.raises(MestiError, match="EP99_01f.*no face found on the onset frame"):
        FacePreprocessor(PreprocessConfig(size=64))(clip_of(*noise, name="EP99_01f"))


@requires_dlib
def test_without_align_the_crop_is_axis_aligned() -> None:
    image = rotated(astronaut(), 12.0)
    out = FacePreprocessor(PreprocessConfig(size=160, align=False, equalize="off"))(clip_of(image, image))
    after = find_face(out.frames[0], "dlib-hog")
    assert after is not None and after.eyes is not None
    assert abs(eye_angle(*after.eyes)) > 6  # still tilted: only cropped and resized
    assert out.meta["face"]["aligned"] is False


@requires_dlib
def test_haar_fallback_finds_and_levels_the_face() -> None:
    image = rotated(astronaut(), 12.0)
    out = FacePreprocessor(PreprocessConfig(face="haar", size=160, equalize="off"))(clip_of(image, image))
    assert out.meta["face"]["detector"] == "haar"
    assert out.meta["face"]["aligned"] is True
    after = find_face(out.frames[0], "dlib-hog")
    assert after is not None and after.eyes is not None
    assert abs(eye_angle(*after.eyes)) < 4.0  # Haar eye boxes are coarser than landmarks


def test_none_mode_only_resizes() -> None:
    frames = np.stack([astronaut()[:300, :200]] * 2)
    out = FacePreprocessor(PreprocessConfig(face="none", size=50, equalize="off"))(clip_of(*frames))
    expected = cv2.resize(frames[0], (50, 50), interpolation=cv2.INTER_AREA)
    assert np.array_equal(out.frames[0], expected)
    assert out.meta["face"]["detector"] == "none"


@requires_dlib
def test_outside_the_frame_is_black_and_still_in_every_frame() -> None:
    """A crop reaching past the frame must add nothing that moves (MESTI would read it as motion)."""
    from tests.preprocessing.faces import small_face

    base = small_face(96)
    frames = [translated(base, dx, 0.0) for dx in (0.0, 1.0, 2.0)]
    out = FacePreprocessor(PreprocessConfig(size=64, margin=0.8, equalize="frame"))(clip_of(*frames))
    corners = out.frames[:, :4, :4]
    assert corners.max() == 0
    assert np.ptp(out.frames.astype(int), axis=0)[:, :4].max() == 0  # the whole top band: no change
