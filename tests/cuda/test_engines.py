"""Both training engines on a CUDA device: a group of one against the sequential engine, and a
group that really runs out of memory (issue 15)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from torch import nn

from tests.cuda.entry import (
    CUDA,
    Fold,
    FoldResult,
    StackedOptions,
    TrainConfig,
    create_model,
    loso,
    plan_schedule,
    run_stacked,
    toy_samples,
    train_fold,
    train_group,
)

pytestmark = CUDA


def plain_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d((4, 4)),
                         nn.Flatten(), nn.Linear(128, 3))


def meganet_32() -> nn.Module:
    # No dropout: on CUDA torch's fused dropout kernel draws its masks from another stream than
    # the stacked engine's per-fold generators, so only networks without it can match fold by fold.
    return create_model("meganet", num_classes=3, img_size=32, drop_rate=0.0)


@pytest.fixture
def no_tf32() -> Iterator[None]:
    """float32 convolutions and matmuls in float32 (cuDNN's default is TF32)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def assert_close_fold(a: FoldResult, b: FoldResult, loss_rtol: float, prob_atol: float) -> None:
    assert (a.name, a.seed, a.test_index, a.history["epoch"]) == (b.name, b.seed, b.test_index, b.history["epoch"])
    np.testing.assert_allclose(a.norm["mean"], b.norm["mean"], rtol=1e-5)
    np.testing.assert_allclose(a.history["train_loss"], b.history["train_loss"], rtol=loss_rtol, err_msg=a.name)
    np.testing.assert_allclose(a.probs, b.probs, atol=prob_atol, err_msg=a.name)


@pytest.mark.parametrize("build", [plain_net, meganet_32], ids=["conv-bn", "meganet32"])
@pytest.mark.parametrize(("amp", "loss_rtol", "prob_atol"), [(False, 2e-3, 2e-3), (True, 0.05, 0.05)], ids=["fp32", "bf16"])
def test_a_group_of_one_on_cuda_reproduces_the_sequential_engine(
    build: Callable[[], nn.Module], amp: bool, loss_rtol: float, prob_atol: float, no_tf32: None
) -> None:
    # Every training set (36 samples) is a multiple of the batch, so both engines take the very
    # same batches and augmentation: what remains is rounding (bf16 autocast when amp is on,
    # grouped against plain kernels, channels-last layouts).
    samples = toy_samples((12, 12, 12, 12), size=32)
    folds = loso(samples)
    cfg = TrainConfig(epochs=3, batch_size=12, device="cuda", seed=5, amp=amp)
    schedule = plan_schedule(samples, folds, cfg)
    for fold in folds[:2]:
        alone, _ = train_fold(samples, fold, build, cfg)
        group = train_group(samples, [fold], build, cfg, schedule=schedule)
        assert all(t.is_cuda for t in group.params.values())
        assert_close_fold(group.results[0], alone, loss_rtol, prob_atol)


def peak_reserved(device: torch.device, run: Callable[[], list[FoldResult]]) -> tuple[int, list[FoldResult]]:
    """Bytes the caching allocator reserved at most while ``run`` ran (its cache emptied first)."""
    torch.cuda.synchronize(device)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_reserved(device)
    torch.cuda.reset_peak_memory_stats(device)
    results = run()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_reserved(device) - base
    torch.cuda.empty_cache()
    return peak, results


def test_a_group_too_big_for_a_small_memory_fraction_is_halved_on_cuda() -> None:
    # Measure what groups of one and two folds take (a fixed part and a part per fold), allow
    # that fixed part plus 2.5 folds (torch's per-process memory fraction), and ask for all 8
    # folds at once: the group must really run out of CUDA memory, be dropped with its memory
    # freed, and be retried in halves that fit.
    device = torch.device("cuda")
    samples = toy_samples((8,) * 8, size=224)
    folds = loso(samples)
    cfg = TrainConfig(epochs=1, batch_size=8, device="cuda", seed=2)

    def build() -> nn.Module:
        return create_model("meganet", num_classes=3, img_size=224)

    def stacked(group: list[Fold], size: int, record: Callable[..., None] = lambda f, r, m: None) -> list[FoldResult]:
        return run_stacked(samples, group, build, cfg, finished=lambda f: None, record=record,
                           options=StackedOptions(folds_per_group=size))

    one_peak, one = peak_reserved(device, lambda: stacked(folds[:1], 1))
    two_peak, _ = peak_reserved(device, lambda: stacked(folds[:2], 2))
    per_fold = two_peak - one_peak
    fixed = one_peak - per_fold
    allowed = fixed + 2.5 * per_fold if per_fold > 0 and fixed >= 0 else 2.5 * one_peak
    base = torch.cuda.memory_reserved(device)
    total = torch.cuda.get_device_properties(device).total_memory
    recorded: list[str] = []
    torch.cuda.set_per_process_memory_fraction(min(1.0, (base + allowed) / total), device)
    try:
        with pytest.warns(RuntimeWarning, match="8 folds at once ran out of memory on cuda"):
            split = stacked(folds, 8, record=lambda f, r, m: recorded.append(f.name))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        torch.cuda.empty_cache()
    assert recorded == [f.name for f in folds]  # each fold once, in protocol order; nothing of the dropped group
    for r in split:
        probs = np.asarray(r.probs)
        assert np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    # A fold trains the same in any group: the first fold matches its run alone (bf16 rounding).
    assert_close_fold(split[0], one[0], loss_rtol=0.05, prob_atol=0.05)
