"""Which attention kernel MEGANet's self-attention runs when the stacked engine vmaps it on CUDA.

PyTorch has vmap rules for CUDA's flash, memory-efficient and cuDNN attention; without one,
SDPA falls back to the math path, which builds the N x N attention matrix (3,136^2 entries
per sample at 56 x 56). The test profiles one real training epoch of a group and fails,
naming every attention op and kernel that ran, when no fused kernel did or when the fused
op had no vmap rule (functorch then loops over the folds).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from tests.cuda.entry import CUDA, TrainConfig, create_model, loso, toy_samples, train_group

pytestmark = CUDA

FUSED_OPS = ("_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention",
             "_scaled_dot_product_cudnn_attention", "_efficient_attention_forward", "_flash_attention_forward")
MATH_OP = "_scaled_dot_product_attention_math"


def attention_names(names: set[str]) -> list[str]:
    keys = ("attention", "fmha", "flash", "sdpa", "softmax")
    return sorted(n for n in names if any(k in n.lower() for k in keys))


def test_vmap_over_meganet_attention_keeps_a_fused_sdpa_kernel(record_property: Callable[[str, object], None]) -> None:
    samples = toy_samples((12, 12, 12), size=224)
    folds = loso(samples)
    cfg = TrainConfig(epochs=1, batch_size=12, device="cuda", seed=0)

    def build() -> nn.Module:
        return create_model("meganet", num_classes=3, img_size=224)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_group(samples, folds[:1], build, cfg)  # warm-up: lazy initialisation falls outside the profile
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            train_group(samples, folds, build, cfg)
            torch.cuda.synchronize()
    names = {e.key for e in prof.key_averages()}
    ran = attention_names(names)
    # functorch warns where an op has no batching rule and runs once per fold in a loop
    fallbacks = sorted({str(w.message).split(". ")[0] for w in caught if "performance drop" in str(w.message)})
    record_property("attention_ops_and_kernels", "; ".join(ran))
    record_property("vmap_fallbacks", "; ".join(fallbacks) or "none")
    print("attention ops and kernels that ran:", *ran, sep="\n  ")
    print("ops without a vmap rule (run per fold):", *(fallbacks or ["none"]), sep="\n  ")
    fused = [n for n in names if any(op in n for op in FUSED_OPS)]
    assert fused, f"no fused SDPA op ran under vmap; attention ops and kernels: {ran}"
    assert not any(MATH_OP in n for n in names), f"SDPA fell back to the math path under vmap: {ran}"
    assert not [f for f in fallbacks if "attention" in f], f"the fused SDPA op has no vmap rule here, it runs per fold: {fallbacks}"
