"""Gradient Attention (MEGANet, docs/method.md, MEGANet step 1): a spatial gate from image edges.

The gate is computed from finite differences of the input itself (not Sobel, not
back-propagated gradients), so it highlights where intensity changes, which in a MESTI or
flow image is where the face moved.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def finite_difference_magnitude(x: Tensor) -> Tensor:
    """``|x(i, j+1) - x(i, j)| + |x(i+1, j) - x(i, j)|`` per channel, same ``H x W`` as ``x``.

    The last column (row) has no right (lower) neighbour, so its difference is zero: the
    difference maps are zero padded back to ``H x W``. Padding ``x`` itself with zeros instead
    would put ``|x|`` on the border and make every image frame look like a strong edge.
    """
    gx = F.pad((x[..., :, 1:] - x[..., :, :-1]).abs(), (0, 1, 0, 0))
    gy = F.pad((x[..., 1:, :] - x[..., :-1, :]).abs(), (0, 0, 0, 1))
    return gx + gy


class GradientAttention(nn.Module):
    """``x * sigmoid(conv(G))`` with ``G`` the finite-difference magnitude of ``x``.

    One conv maps the ``C`` difference channels to a single map, so every channel of a pixel
    is scaled by the same factor in (0, 1).
    """

    def __init__(self, in_chans: int, kernel_size: int = 3, bias: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chans, 1, kernel_size, padding=kernel_size // 2, bias=bias)

    def attention_map(self, x: Tensor) -> Tensor:
        """The gate ``A``: ``B x 1 x H x W`` in (0, 1)."""
        return torch.sigmoid(self.conv(finite_difference_magnitude(x)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.attention_map(x)
