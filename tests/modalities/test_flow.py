from __future__ import annotations

import numpy as np
import pytest

from mesti.clips import load_clip
from mesti.modalities import encode, optical_strain_numpy, tvl1_flow
from tests.conftest import shifted, textured_frame


@pytest.mark.parametrize(("dx", "dy"), [(0.6, -0.4), (1.3, 0.5)])
def test_tvl1_recovers_subpixel_translation(dx: float, dy: float) -> None:
    base = textured_frame(96, seed=3)
    a = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    b = np.clip(np.rint(shifted(base, dx, dy)), 0, 255).astype(np.uint8)
    flow = tvl1_flow(a, b)
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    centre = flow[16:-16, 16:-16].reshape(-1, 2)
    np.testing.assert_allclose(np.median(centre, axis=0), [dx, dy], atol=0.1)


def test_strain_of_known_fields() -> None:
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    # A pure translation has no strain.
    trans = np.stack([np.full_like(xx, 0.7), np.full_like(xx, -0.2)], axis=-1)
    np.testing.assert_allclose(optical_strain_numpy(trans), 0.0)
    # u = 0.1 x: u_x = 0.1 everywhere past the first column (backward differences).
    stretch = np.stack([0.1 * xx, np.zeros_like(xx)], axis=-1)
    s = optical_strain_numpy(stretch)
    np.testing.assert_allclose(s[:, 1:], 0.1, rtol=1e-5)
    np.testing.assert_allclose(s[:, 0], 0.0)
    # Shear u = 0.2 y: sqrt(1/2 * 0.2^2).
    shear = np.stack([0.2 * yy, np.zeros_like(xx)], axis=-1)
    np.testing.assert_allclose(optical_strain_numpy(shear)[1:, 1:], np.sqrt(0.5) * 0.2, rtol=1e-5)
    np.testing.assert_allclose(optical_strain_numpy(shear, "central"), np.sqrt(0.5) * 0.2, rtol=1e-5)


def test_flow_images_have_their_channels() -> None:
    base = textured_frame(64, seed=1)
    frames = np.stack([base, shifted(base, 0.5, 0), shifted(base, 1.0, 0), shifted(base, 0.5, 0)])
    clip = load_clip(np.clip(np.rint(frames), 0, 255).astype(np.uint8), apex=2)
    raw = encode(clip, "flow_onset_apex", scale="raw", channels="uvm")
    centre = raw[12:-12, 12:-12]
    assert np.median(centre[..., 0]) == pytest.approx(1.0, abs=0.15)
    np.testing.assert_allclose(centre[..., 2], np.hypot(centre[..., 0], centre[..., 1]), rtol=1e-5)
    back = encode(clip, "flow_apex_offset", scale="raw", channels="uvm")
    assert np.median(back[12:-12, 12:-12, 0]) == pytest.approx(-0.5, abs=0.15)
    img = encode(clip, "flow_onset_apex")
    for c in range(3):  # STSTNet-style per-channel min-max
        assert img[..., c].min() == 0.0 and img[..., c].max() == pytest.approx(255.0, abs=1e-3)
    strain = encode(clip, "optical_strain", scale="raw")
    assert strain.shape == (64, 64, 1) and strain.min() >= 0
    sym = encode(clip, "flow_onset_apex", scale="symmetric", channels="uvm")
    assert np.median(sym[12:-12, 12:-12, 0]) == pytest.approx(127.5 * 1.5, abs=10)  # +1 px of +-2 px
