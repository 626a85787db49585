"""Focal loss (the paper's choice) beside plain cross-entropy."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mesti.utils.registry import Registry


class FocalLoss(nn.Module):
    """``-(1 - p_t)^gamma * log p_t``, mean over the batch (Lin et al. 2017).

    The paper states neither gamma nor alpha: gamma 2, no per-class alpha, by default.
    With gamma 0 it equals cross-entropy.
    """

    def __init__(self, gamma: float = 2.0, alpha: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("alpha", alpha if alpha is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -((1.0 - logp.exp()).clamp(min=0) ** self.gamma) * logp
        if self.alpha is not None:
            loss = loss * self.alpha[target]
        return loss.mean()


def _cross_entropy(gamma: float) -> nn.Module:
    """Plain cross-entropy (the focal loss at gamma 0; the focal ``gamma`` is not used)."""
    return nn.CrossEntropyLoss()


#: Each entry builds a loss from the focal ``gamma`` of the training config.
LOSSES: Registry[Callable[[float], nn.Module]] = Registry("loss", "training.loss")
LOSSES.register("focal", FocalLoss)
LOSSES.register("cross_entropy", _cross_entropy)


def create_loss(name: str, gamma: float = 2.0) -> nn.Module:
    """The loss ``name`` (see ``LOSSES``: ``focal``, ``cross_entropy``)."""
    return LOSSES.create(name, gamma)
