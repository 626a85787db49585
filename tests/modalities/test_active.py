"""The Active image against OrigiNet's published definition, worked by hand on a tiny clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mesti.clips import load_clip
from mesti.errors import MestiError
from mesti.modalities import encode, encode_batch
from mesti.modalities.active import active_weights


def _pair_sum(grey: np.ndarray, skip_previous: bool) -> np.ndarray:
    """The released loop written out: for each j >= 1, add I_j - I_k over k < j (k <= j - 2 as released)."""
    acc = np.zeros(grey.shape[1:], dtype=np.float64)
    for j in range(1, len(grey)):
        for k in range(0, j - 1 if skip_previous else j):
            acc += grey[j] - grey[k]
    return acc


def test_weights_of_the_worked_example() -> None:
    # T = 10: every pair gives 2t - T - 1; the released loop gives the end frames T - 2.
    np.testing.assert_array_equal(active_weights(10), [-9, -7, -5, -3, -1, 1, 3, 5, 7, 9])
    np.testing.assert_array_equal(active_weights(10, "released"), [-8, -7, -5, -3, -1, 1, 3, 5, 7, 8])


def test_hand_worked_grey_clip() -> None:
    # Four flat grey frames 10, 20, 40, 70: pairs k < j give (20-10) + (40-10) + (40-20)
    # + (70-10) + (70-20) + (70-40) = 200 = -3*10 - 1*20 + 1*40 + 3*70.
    frames = np.stack([np.full((2, 3, 1), v, dtype=np.uint8) for v in (10, 20, 40, 70)])
    clip = load_clip(frames)
    raw = encode(clip, "active_image", scale="raw")
    assert raw.shape == (2, 3, 3)
    np.testing.assert_array_equal(raw, 200.0)
    # The release skips k = j - 1: (40-10) + (70-10) + (70-20) = 140.
    np.testing.assert_array_equal(encode(clip, "active_image", variant="released", scale="raw"), 140.0)
    # Saved as 8 bits without rescaling: saturates at 255.
    np.testing.assert_array_equal(encode(clip, "active_image", scale="clip"), 200.0)
    np.testing.assert_array_equal(encode(load_clip(frames[::-1]), "active_image", scale="clip"), 0.0)


@pytest.mark.parametrize("variant", ["intended", "released"])
def test_matches_the_pair_sum_on_colour_frames(variant: str) -> None:
    frames = np.random.default_rng(3).integers(0, 256, size=(9, 5, 4, 3), dtype=np.uint8)
    grey = frames.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if variant == "released":  # the release's grey frames are OpenCV's, rounded to 8 bits
        grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float64)
    expected = _pair_sum(grey, skip_previous=variant == "released")
    got = encode(load_clip(frames), "active_image", variant=variant, scale="raw")
    np.testing.assert_allclose(got[..., 0], expected, rtol=1e-5, atol=1e-2)
    assert np.array_equal(got[..., 0], got[..., 1]) and np.array_equal(got[..., 0], got[..., 2])


@pytest.mark.parametrize("scale", ["raw", "clip", "minmax", "symmetric"])
def test_torch_path_agrees_with_numpy(scale: str) -> None:
    rng = np.random.default_rng(5)
    clips = [load_clip(rng.integers(0, 256, size=(n, 6, 5, 3), dtype=np.uint8), apex=1) for n in (5, 8)]
    batch = encode_batch(clips, "active_image", scale=scale, variant="released").numpy()
    for i, clip in enumerate(clips):
        one = encode(clip, "active_image", scale=scale, variant="released")
        np.testing.assert_allclose(batch[i].transpose(1, 2, 0), one, rtol=1e-4, atol=1e-2)


def test_released_variant_rounds_the_grey_image_to_8_bits_as_opencv_does() -> None:
    # OrigiNet's code converts each 8-bit frame with cv2.cvtColor(..., COLOR_BGR2GRAY): an 8-bit grey image.
    rng = np.random.default_rng(11)
    frames = rng.integers(0, 256, size=(6, 40, 50, 3), dtype=np.uint8)
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float64)
    expected = _pair_sum(grey, skip_previous=True)
    clip = load_clip(frames)
    got = encode(clip, "active_image", variant="released", scale="raw")[..., 0]
    np.testing.assert_array_equal(got, expected)
    batch = encode_batch([clip, load_clip(frames[:4])], "active_image", variant="released", scale="raw").numpy()
    np.testing.assert_array_equal(batch[0, 0], expected)
    # The unrounded luma differs: the rounding is what the release does, not a no-op.
    assert not np.array_equal(encode(clip, "active_image", variant="intended", scale="raw")[..., 0],
                              _pair_sum(grey, skip_previous=False))


def test_bad_options() -> None:
    clip = load_clip(np.zeros((3, 2, 2, 3), dtype=np.uint8))
    with pytest.raises(MestiError, match="variant"):
        encode(clip, "active_image", variant="paper")
    with pytest.raises(MestiError, match="unknown scale"):
        encode(clip, "active_image", scale="log")
