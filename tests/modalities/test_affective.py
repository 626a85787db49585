"""The Affective motion image (mesti's reading of AffectiveNet's definition), worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mesti.clips import load_clip
from mesti.modalities import encode, encode_batch, get_modality, list_modalities


def test_is_offered_and_says_it_is_a_reading() -> None:
    assert "affective_motion" in list_modalities()
    spec = get_modality("affective_motion")
    assert spec.channels == 3 and "reading" in spec.description and "could not be checked" in spec.description


def test_hand_worked_clip() -> None:
    # Flat frames 10, 20, 15, 15, 40: |20-10| + |15-20| + |15-15| + |40-15| = 40 in every channel.
    frames = np.stack([np.full((2, 3, 3), v, dtype=np.uint8) for v in (10, 20, 15, 15, 40)])
    clip = load_clip(frames)
    np.testing.assert_array_equal(encode(clip, "affective_motion", scale="raw"), 40.0)
    # symmetric: the mean change per frame step (40 / 4 = 10) over the range, 0..range -> 0..255
    np.testing.assert_allclose(encode(clip, "affective_motion", scale="symmetric", symmetric_range=20.0), 127.5)
    # only onset..offset counts: frames 1..3 give |15-20| + |15-15| = 5
    np.testing.assert_array_equal(encode(load_clip(frames, onset=1, apex=2, offset=3), "affective_motion", scale="raw"), 5.0)


def test_a_static_clip_is_zero_and_direction_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    still = np.repeat(rng.integers(0, 256, size=(1, 6, 5, 3), dtype=np.uint8), 7, axis=0)
    np.testing.assert_array_equal(encode(load_clip(still), "affective_motion", scale="raw"), 0.0)
    moving = rng.integers(0, 256, size=(7, 6, 5, 3), dtype=np.uint8)
    forward = encode(load_clip(moving), "affective_motion", scale="raw")
    np.testing.assert_array_equal(forward, encode(load_clip(moving[::-1].copy()), "affective_motion", scale="raw"))
    expected = np.abs(np.diff(moving.astype(np.float64), axis=0)).sum(axis=0)
    np.testing.assert_array_equal(forward, expected)


@pytest.mark.parametrize("scale", ["raw", "minmax", "symmetric"])
def test_padded_batch_equals_one_clip_at_a_time(scale: str) -> None:
    rng = np.random.default_rng(2)
    clips = [load_clip(rng.integers(0, 256, size=(n, 6, 5, 3), dtype=np.uint8)) for n in (2, 4, 9)]
    batch = encode_batch(clips, "affective_motion", scale=scale).numpy()
    for i, clip in enumerate(clips):
        np.testing.assert_allclose(batch[i].transpose(1, 2, 0), encode(clip, "affective_motion", scale=scale),
                                   rtol=1e-5, atol=1e-3)
