"""``encode_batch`` on a CUDA device gives the images of the numpy path, clip by clip (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.cuda.entry import CUDA, encode, encode_batch, list_modalities, load_clip, moving_clip

pytestmark = CUDA


@pytest.mark.parametrize("name", list_modalities())
@pytest.mark.parametrize("scale", ["minmax", "symmetric", "raw"])
def test_encode_batch_on_cuda_equals_the_numpy_path(name: str, scale: str) -> None:
    if name == "apex" and scale != "raw":
        pytest.skip("apex takes no scaling")
    opts = {} if name == "apex" else {"scale": scale}
    clips = [  # different lengths and apexes: the batch is zero padded on the device
        load_clip(moving_clip(length=12, apex=5, seed=0), apex=5),
        load_clip(moving_clip(length=9, apex=2, seed=1), onset=1, apex=2, offset=8),
        load_clip(moving_clip(length=15, apex=9, seed=2), apex=9),
    ]
    batch = encode_batch(clips, name, device="cuda", **opts)
    assert batch.is_cuda and batch.shape[0] == len(clips)
    for i, clip in enumerate(clips):
        single = encode(clip, name, **opts)
        # float32 sums in another order on another processor: agree to float32 precision of the image's magnitude.
        atol = 1e-2 + 1e-4 * float(np.abs(single).max())
        np.testing.assert_allclose(batch[i].permute(1, 2, 0).cpu().numpy(), single, rtol=1e-4, atol=atol, err_msg=name)
