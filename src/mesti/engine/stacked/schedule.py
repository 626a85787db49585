"""The stacked engine's batch schedule: one batch size and epoch length for every fold, and
each epoch's indices and augmentation drawn ahead on the host."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from mesti.errors import MestiError
from mesti.protocols.splits import Fold
from mesti.engine.augment import augment_theta, draw_augment
from mesti.engine.config import TrainConfig
from mesti.engine.folds import split_fold
from mesti.engine.samples import SampleSet


def sequential_steps(n: int, batch_size: int) -> int:
    """Optimizer steps :func:`~mesti.engine.sequential.train_fold` takes in one epoch over
    ``n`` samples: ``ceil(n / batch_size)``, less a last batch of one, which it skips."""
    steps = math.ceil(n / batch_size)
    if n >= 2 and steps > 1 and n % batch_size == 1:
        steps -= 1
    return steps


@dataclass(frozen=True)
class StackSchedule:
    """One batch size and one epoch length (in steps) for every fold of a run."""

    batch_size: int
    steps_per_epoch: int

    @classmethod
    def for_sizes(cls, train_sizes: Sequence[int], batch_size: int) -> StackSchedule:
        """The sequential engine's steps per epoch and mean batch on the median fold."""
        sizes = sorted(int(n) for n in train_sizes)
        if not sizes:
            raise MestiError("stacked engine", "no folds to plan a schedule for")
        if sizes[0] < 2:
            raise MestiError("stacked engine", "every fold needs at least 2 training samples (BatchNorm cannot train on one)")
        n = sizes[len(sizes) // 2]
        steps = sequential_steps(n, batch_size)
        trained = n - 1 if n % batch_size == 1 and n > batch_size else n
        mean_batch = math.floor(trained / steps + 0.5)
        return cls(max(2, min(batch_size, sizes[0], mean_batch)), steps)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def plan_schedule(samples: SampleSet, folds: Sequence[Fold], cfg: TrainConfig) -> StackSchedule:
    """The schedule for a run: computed from *all* its folds, so it does not depend on how
    they are grouped or on which of them a resumed run has left to train."""
    return StackSchedule.for_sizes([len(split_fold(samples, f, cfg)[0]) for f in folds], cfg.batch_size)


class FoldStream:
    """A fold's training indices as successive seeded permutations, read ``b`` at a time.

    The next permutation is drawn only when the remaining ones run short, so when the
    fold's size is a multiple of ``b`` the generator sees the draws ``train_fold`` makes, in
    the same order (permutation, then one augmentation per batch).
    """

    def __init__(self, indices: np.ndarray, generator: torch.Generator) -> None:
        self.indices = torch.as_tensor(indices, dtype=torch.long)
        self.generator = generator
        self.left = self.indices[:0]

    def take(self, b: int) -> Tensor:
        while len(self.left) < b:
            order = torch.randperm(len(self.indices), generator=self.generator)
            self.left = torch.cat([self.left, self.indices[order]])
        out, self.left = self.left[:b], self.left[b:]
        return out


@dataclass
class EpochPlan:
    """One epoch of a group, drawn ahead on the CPU: every step's sample indices and
    augmentation for every fold, each fold from its own generator in the order the
    sequential engine draws (its indices, then its augmentation, step by step).

    Sent to the device in one pinned, non-blocking copy per epoch, so no step copies from the
    host: a blocking copy waits for the device to finish the step before, and with it every
    kernel launch of the next step would wait too.
    """

    idx: Tensor  # steps x F x B
    theta: Tensor | None  # steps x FB x 2 x 3 flip, rotate and crop matrices; None: nothing to augment all epoch
    keep: Tensor | None  # steps x F x 1 x 1 x 1: True where a fold's draws leave its batch unchanged
    any_keep: list[bool]  # per step, known on the host: some fold keeps its batch
    all_keep: list[bool]  # per step: every fold does (no warp at all)


def plan_epoch(streams: Sequence[FoldStream], steps: int, b: int, cfg: TrainConfig, device: torch.device) -> EpochPlan:
    """Draw one epoch for the folds of ``streams`` (each stream holds its fold's generator)."""
    f = len(streams)
    idx = torch.empty(steps, f, b, dtype=torch.long)
    theta = torch.empty(steps, f * b, 2, 3)
    keep = torch.empty(steps, f, dtype=torch.bool)
    for s in range(steps):
        for k, stream in enumerate(streams):
            idx[s, k] = stream.take(b)
        draws = [draw_augment(b, stream.generator, cfg.flip, cfg.rotations, cfg.crop) for stream in streams]
        keep[s] = torch.tensor([d is None for d in draws])
        angles = torch.cat([torch.zeros(b) if d is None else d[0] for d in draws])
        sign = torch.cat([torch.ones(b) if d is None else d[1] for d in draws])
        shift = torch.cat([torch.zeros(b, 2) if d is None else d[2] for d in draws])
        theta[s] = augment_theta(angles, sign, shift, cfg.crop)
    any_keep, all_keep = keep.any(dim=1).tolist(), keep.all(dim=1).tolist()
    warps = not all(all_keep)
    return EpochPlan(to_device(idx, device), to_device(theta, device) if warps else None,
                     to_device(keep.view(steps, f, 1, 1, 1), device) if warps else None, any_keep, all_keep)


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """A copy that does not make the host wait for the device (pinned, non-blocking)."""
    if device.type != "cuda":
        return t
    return t.pin_memory().to(device, non_blocking=True)
