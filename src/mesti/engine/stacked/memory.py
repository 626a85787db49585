"""How many folds fit in one group, and what to do when a group does not fit after all."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from mesti.engine.config import TrainConfig
from mesti.engine.folds import autocast_for, fit_input, resolve_device
from mesti.engine.samples import SampleSet
from mesti.engine.stacked.noise import probe, swap_noise_modules
from mesti.engine.stacked.options import StackedOptions
from mesti.engine.stacked.schedule import StackSchedule


def fold_memory_bytes(param_bytes: int, act_bytes_per_sample: int, batch_size: int) -> int:
    """A heuristic training footprint of one fold: parameters, gradients and two Adam
    moments, plus three times the leaf modules' activations (saved tensors, their
    gradients and workspace). Explicit ``folds_per_group`` overrides it."""
    return 4 * param_bytes + 3 * act_bytes_per_sample * batch_size


def memory_budget(device: torch.device, fraction: float) -> int | None:
    """Free CUDA memory, or the kernel's MemAvailable, times ``fraction`` (None: unknown)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * fraction)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(int(line.split()[1]) * 1024 * fraction)
    except (OSError, ValueError, IndexError):
        pass
    return None


def auto_folds_per_group(
    samples: SampleSet,
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    schedule: StackSchedule,
    options: StackedOptions,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
) -> int | None:
    """How many folds fit ``options.memory_fraction`` of the free memory (None: no limit
    known), from :func:`fold_memory_bytes` of one probe network."""
    device = resolve_device(cfg.device)
    budget = memory_budget(device, options.memory_fraction)
    if budget is None:
        return None
    with torch.random.fork_rng(devices=[]):
        model = build_model().to(device)
    noises = swap_noise_modules(model)
    x = fit_input(samples.images[:2], input_size, in_chans).to(device)
    _, act = probe(model, x, noises, autocast_for(device, cfg))
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return max(1, budget // fold_memory_bytes(param_bytes, act, schedule.batch_size))


def smaller_group(size: int, device: torch.device) -> int:
    """After a group of ``size`` folds ran out of memory: free the allocator's cache, warn,
    and return half the size. The memory estimate is a heuristic, so this is what makes the
    automatic group size safe; a fold trains the same in any group, so nothing is lost but
    the group's time (whatever folds it had finished were never recorded)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    half = max(1, size // 2)
    warnings.warn(f"stacked engine: {size} folds at once ran out of memory on {device}; retrying with {half} "
                  "per group (set --folds-per-group to skip this)", RuntimeWarning, stacklevel=2)
    return half
