from __future__ import annotations

import numpy as np
import pytest

from mesti.clips import load_clip
from mesti.modalities import bilen_weights, encode, mesti_weights, simplified_rank_weights
from tests.conftest import moving_clip


def test_paper_worked_example() -> None:
    np.testing.assert_array_equal(mesti_weights(10, 4), [-3, -1, 1, 3, 5, 3, 1, -1, -3, -5])


@pytest.mark.parametrize("length", range(1, 41))
def test_weights_sum_to_zero(length: int) -> None:
    for a in range(1, length + 1):
        assert mesti_weights(length, a).sum() == 0
    assert simplified_rank_weights(length).sum() == 0
    assert bilen_weights(length).sum() == pytest.approx(0.0, abs=1e-9)


def test_mesti_rises_to_the_apex_and_falls_after() -> None:
    for length, a in [(10, 4), (7, 1), (7, 7), (31, 12)]:
        w = mesti_weights(length, a)
        assert np.all(np.diff(w[:a]) == 2)  # onset -> apex: each frame ranks above the last
        assert np.all(np.diff(w[a:]) == -2)  # apex -> offset: each frame ranks below the last


def test_bilen_weights_match_published_values() -> None:
    np.testing.assert_allclose(bilen_weights(4), [-2.4167, 0.5833, 1.0833, 0.75], atol=1e-4)
    np.testing.assert_allclose(
        bilen_weights(10),
        [-12.2187, -3.2187, 0.2813, 1.9480, 2.6980, 2.8980, 2.7313, 2.3028, 1.6778, 0.9000],
        atol=1e-4,
    )
    # The official code's form: alpha_t = sum_{j >= t} (2j - T - 1) / j.
    t = 9
    direct = [sum((2 * j - t - 1) / j for j in range(s, t + 1)) for s in range(1, t + 1)]
    np.testing.assert_allclose(bilen_weights(t), direct)


def test_static_clip_gives_zero_raw_mesti() -> None:
    frames = np.repeat(moving_clip()[:1], 9, axis=0)
    clip = load_clip(frames, apex=3)
    np.testing.assert_array_equal(encode(clip, "mesti", scale="raw"), 0.0)
    np.testing.assert_array_equal(encode(clip, "mesti"), 0.0)  # min-max of a constant image
    np.testing.assert_allclose(encode(clip, "dynamic_image", scale="raw"), 0.0, atol=1e-3)


def test_raw_mesti_is_exactly_the_weighted_sum() -> None:
    frames = np.random.default_rng(1).integers(0, 256, size=(40, 16, 16, 3), dtype=np.uint8)
    clip = load_clip(frames, onset=3, apex=17, offset=38)
    w = mesti_weights(36, 15).astype(np.float64)
    expected = np.tensordot(w, frames[3:39].astype(np.float64), axes=1)
    got = encode(clip, "mesti", scale="raw")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected.astype(np.float32))


def _half_di(frames: np.ndarray) -> np.ndarray:
    w = simplified_rank_weights(len(frames)).astype(np.float64)
    return np.tensordot(w, frames.astype(np.float64), axes=1)


@pytest.mark.parametrize(("length", "a"), [(10, 4), (12, 1), (12, 12), (9, 5)])
def test_mesti_is_two_half_dynamic_images(length: int, a: int) -> None:
    frames = np.random.default_rng(a).integers(0, 256, size=(length, 8, 8, 3), dtype=np.uint8)
    clip = load_clip(frames, apex=a - 1)
    rising = _half_di(frames[:a])  # onset -> apex
    falling = _half_di(frames[a:][::-1]) if a < length else 0.0  # offset -> apex, played backwards
    np.testing.assert_array_equal(encode(clip, "mesti", scale="raw"), (rising + falling).astype(np.float32))
    if a >= 2:
        half = load_clip(frames[:a])
        np.testing.assert_array_equal(encode(half, "dynamic_image_simplified", scale="raw"), rising.astype(np.float32))


def test_scalings() -> None:
    clip = load_clip(moving_clip(amplitude=1.0), apex=5)
    big = load_clip(moving_clip(amplitude=2.0), apex=5)
    mm = encode(clip, "mesti")
    assert mm.min() == 0.0 and mm.max() == pytest.approx(255.0)
    # symmetric keeps amplitude: twice the motion, about twice the distance from mid-grey.
    s1 = np.abs(encode(clip, "mesti", scale="symmetric", symmetric_range=64) - 127.5).mean()
    s2 = np.abs(encode(big, "mesti", scale="symmetric", symmetric_range=64) - 127.5).mean()
    assert 1.6 < s2 / s1 < 2.4
    # min-max hides it.
    assert abs(encode(big, "mesti").mean() - mm.mean()) < 20
    sym = encode(clip, "mesti", scale="symmetric", symmetric_range=1e-3)
    assert sym.min() >= 0 and sym.max() <= 255


def test_dynamic_image_variants_differ() -> None:
    clip = load_clip(moving_clip(), apex=5)
    a = encode(clip, "dynamic_image", scale="raw")
    b = encode(clip, "dynamic_image", variant="simplified", scale="raw")
    c = encode(clip, "dynamic_image_simplified", scale="raw")
    np.testing.assert_array_equal(b, c)
    assert not np.allclose(a, b)
