"""Reusable blocks that the networks in :mod:`mesti.models` compose."""

from mesti.models.layers.gradient_attention import GradientAttention, finite_difference_magnitude
from mesti.models.layers.residual import ResidualBlock, shortcut
from mesti.models.layers.self_attention import SelfAttention2d

__all__ = [
    "GradientAttention",
    "ResidualBlock",
    "SelfAttention2d",
    "finite_difference_magnitude",
    "shortcut",
]
