"""Optimisers by name (``adam``, ``sgd``), built from the training config.

Every optimiser here acts elementwise, so one optimiser over stacked fold parameters is
one per fold: the stacked engine relies on that, and a new entry must keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import torch

from mesti.utils.registry import Registry


class OptimizerSettings(Protocol):
    """What an optimiser reads from the training config (:class:`~mesti.engine.config.TrainConfig`)."""

    optimizer: str
    lr: float
    weight_decay: float


OptimizerFn = Callable[[Iterable[torch.Tensor], OptimizerSettings], torch.optim.Optimizer]

OPTIMIZERS: Registry[OptimizerFn] = Registry("optimizer", "training.optimizer")


@OPTIMIZERS.register("adam")
def _adam(params: Iterable[torch.Tensor], cfg: OptimizerSettings) -> torch.optim.Optimizer:
    """Adam with the configured learning rate and weight decay (the paper's choice)."""
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


@OPTIMIZERS.register("sgd")
def _sgd(params: Iterable[torch.Tensor], cfg: OptimizerSettings) -> torch.optim.Optimizer:
    """SGD with momentum 0.9 and the configured learning rate and weight decay."""
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def create_optimizer(params: list[torch.Tensor], cfg: OptimizerSettings) -> torch.optim.Optimizer:
    """The optimiser ``cfg.optimizer`` over ``params``."""
    return OPTIMIZERS.create(cfg.optimizer, params, cfg)
