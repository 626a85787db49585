"""Batch augmentation on the device: horizontal flip and small rotations, per sample.

One affine grid per batch (``affine_grid`` + ``grid_sample``) so the whole batch is
augmented in one call on CPU or GPU; the generator makes it reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    flip: bool = True,
    rotations: Sequence[float] = (-10.0, -5.0, 0.0, 5.0, 10.0),
) -> torch.Tensor:
    """Flip each image with probability 1/2 and rotate it by an angle drawn from ``rotations``."""
    draws = draw_flip_rotate(x.shape[0], generator, flip, rotations)
    if draws is None:
        return x
    return warp(x, flip_rotate_theta(*draws).to(device=x.device, dtype=x.dtype))


def draw_flip_rotate(
    b: int, generator: torch.Generator, flip: bool, rotations: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The random numbers of one batch's augmentation: ``b`` angles (degrees) and ``b``
    signs (-1: mirrored); None where the batch stays unchanged. Every engine draws through
    this, so a fold's generator sees the same draws in either engine."""
    angles = torch.zeros(b)
    if rotations and any(a != 0 for a in rotations):
        choice = torch.randint(len(rotations), (b,), generator=generator)
        angles = torch.tensor([float(r) for r in rotations])[choice]
    sign = torch.ones(b)
    if flip:
        sign = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    if not flip and bool((angles == 0).all()):
        return None
    return angles, sign


def flip_rotate_theta(angles: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """``N x 2 x 3`` affine matrices: rotate by ``angles`` (degrees), then mirror where
    ``sign`` is -1 (the horizontal flip)."""
    rad = angles * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    theta = torch.zeros(len(angles), 2, 3)
    theta[:, 0, 0] = cos * sign
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * sign
    theta[:, 1, 1] = cos
    return theta


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``N x C x H x W`` images through per-image affine ``theta`` (border padding)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
