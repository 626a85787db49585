from __future__ import annotations

import numpy as np
import pytest
import torch

from mesti.clips import load_clip
from mesti.errors import MestiError
from mesti.modalities import ClipBatch, encode, encode_batch, get_modality, list_modalities
from tests.conftest import moving_clip

MODALITIES = list_modalities()


def test_registry_lists_every_paper_modality() -> None:
    for name in ["mesti", "dynamic_image", "dynamic_image_simplified", "apex", "flow_onset_apex", "flow_apex_offset",
                 "optical_strain", "active_image", "affective_motion"]:
        assert name in MODALITIES
        spec = get_modality(name)
        assert spec.output and spec.description and spec.channels in (1, 3)
    with pytest.raises(MestiError, match="unknown modality"):
        get_modality("optical_flow")


@pytest.mark.parametrize("name", MODALITIES)
@pytest.mark.parametrize("scale", ["minmax", "symmetric", "raw"])
def test_numpy_and_torch_agree_and_batch_equals_single(name: str, scale: str) -> None:
    if name == "apex" and scale != "raw":
        pytest.skip("apex takes no scaling")
    opts = {} if name == "apex" else {"scale": scale}
    # Clips of different lengths and apexes: the batch is padded.
    clips = [
        load_clip(moving_clip(length=12, apex=5, seed=0), apex=5),
        load_clip(moving_clip(length=9, apex=2, seed=1), onset=1, apex=2, offset=8),
        load_clip(moving_clip(length=15, apex=9, seed=2), apex=9),
    ]
    batch = encode_batch(clips, name, **opts)
    assert batch.shape[0] == 3 and batch.dtype == torch.float32
    for i, clip in enumerate(clips):
        single = encode(clip, name, **opts)
        assert single.dtype == np.float32 and single.shape[-1] == get_modality(name).channels
        one = encode_batch([clip], name, **opts)[0]
        # float32 sums in another order: agree to float32 precision of the image's magnitude.
        atol = 1e-3 + 1e-5 * float(np.abs(single).max())
        np.testing.assert_allclose(one.permute(1, 2, 0).numpy(), single, rtol=1e-5, atol=atol)
        np.testing.assert_allclose(batch[i].permute(1, 2, 0).numpy(), single, rtol=1e-5, atol=atol)


def test_batch_accepts_a_prebuilt_batch_and_checks_sizes() -> None:
    clips = [load_clip(moving_clip()), load_clip(moving_clip(size=32))]
    with pytest.raises(MestiError, match="differs from the batch"):
        ClipBatch.from_clips(clips)
    batch = ClipBatch.from_clips(clips[:1])
    assert encode_batch(batch, "mesti").shape == (1, 3, 48, 48)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_path_matches_cpu() -> None:
    clip = load_clip(moving_clip(), apex=5)
    for name in ["mesti", "dynamic_image", "flow_onset_apex"]:
        a = encode_batch([clip], name, device="cuda").cpu()
        b = encode_batch([clip], name)
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-2)


def test_unknown_options_are_refused() -> None:
    clip = load_clip(moving_clip())
    with pytest.raises(MestiError, match="unknown option"):
        encode(clip, "mesti", channels="uvs")
    with pytest.raises(MestiError, match="unknown scale"):
        encode(clip, "mesti", scale="log")
    with pytest.raises(MestiError, match="unknown channels"):
        encode(clip, "flow_onset_apex", channels="rgb")
