"""Batch augmentation on the device: horizontal flip, small rotations and random crops, per sample.

One affine grid per batch (``affine_grid`` + ``grid_sample``) so the whole batch is
augmented in one call on CPU or GPU; the generator makes it reproducible. A random crop is
part of the same affine map: ``crop`` is the fraction of each side kept (Micro-Attention's
random 224 crops of a 240 resize: 224/240), placed uniformly at random, and resampled to the
network's input size; test images are seen whole, as its recipe resizes them to 224.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

#: One batch's random numbers: angles (degrees), signs (-1: mirrored), crop centres (``b x 2``,
#: in the [-1, 1] coordinates of ``affine_grid``).
Draws = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    flip: bool = True,
    rotations: Sequence[float] = (-10.0, -5.0, 0.0, 5.0, 10.0),
    crop: float = 1.0,
) -> torch.Tensor:
    """Flip each image with probability 1/2, rotate it by an angle drawn from ``rotations``,
    and keep a random ``crop`` fraction of each side."""
    draws = draw_augment(x.shape[0], generator, flip, rotations, crop)
    if draws is None:
        return x
    return warp(x, augment_theta(*draws, crop=crop).to(device=x.device, dtype=x.dtype))


def draw_augment(b: int, generator: torch.Generator, flip: bool, rotations: Sequence[float],
                 crop: float = 1.0) -> Draws | None:
    """The random numbers of one batch's augmentation; None where the batch stays unchanged.
    Every engine draws through this, so a fold's generator sees the same draws in either
    engine. The crop is drawn last, so without one the draws are those of flip and rotation."""
    angles = torch.zeros(b)
    if rotations and any(a != 0 for a in rotations):
        choice = torch.randint(len(rotations), (b,), generator=generator)
        angles = torch.tensor([float(r) for r in rotations])[choice]
    sign = torch.ones(b)
    if flip:
        sign = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    shift = torch.zeros(b, 2)
    if crop < 1.0:
        shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (1.0 - crop)
    if not flip and crop >= 1.0 and bool((angles == 0).all()):
        return None
    return angles, sign, shift


def augment_theta(angles: torch.Tensor, sign: torch.Tensor, shift: torch.Tensor | None = None,
                  crop: float = 1.0) -> torch.Tensor:
    """``N x 2 x 3`` affine matrices: rotate by ``angles`` (degrees), mirror where ``sign`` is
    -1 (the horizontal flip), and read a ``crop``-sized window centred at ``shift``."""
    rad = angles * (math.pi / 180.0)
    cos, sin = torch.cos(rad) * crop, torch.sin(rad) * crop
    theta = torch.zeros(len(angles), 2, 3)
    theta[:, 0, 0] = cos * sign
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * sign
    theta[:, 1, 1] = cos
    if shift is not None:
        theta[:, :, 2] = shift
    return theta


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``N x C x H x W`` images through per-image affine ``theta`` (border padding)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
