from __future__ import annotations

import pytest
import torch

from mesti.errors import MestiError
from mesti.engine.config import TrainConfig
from mesti.engine.losses import FocalLoss, create_loss
from mesti.engine.optimizers import OPTIMIZERS, create_optimizer


def test_optimizers_by_name_take_the_configured_rates() -> None:
    params = [torch.nn.Parameter(torch.zeros(3))]
    adam = create_optimizer(params, TrainConfig(optimizer="adam", lr=0.01, weight_decay=0.002))
    assert isinstance(adam, torch.optim.Adam)
    assert adam.defaults["lr"] == 0.01 and adam.defaults["weight_decay"] == 0.002
    sgd = create_optimizer(params, TrainConfig(optimizer="sgd", lr=0.1))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9
    assert OPTIMIZERS.list() == ["adam", "sgd"]


def test_losses_by_name() -> None:
    focal = create_loss("focal", gamma=1.5)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.5
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    ce = create_loss("cross_entropy", gamma=1.5)
    torch.testing.assert_close(ce(logits, target), create_loss("focal", gamma=0.0)(logits, target))
    with pytest.raises(MestiError, match="^training.loss: unknown loss 'hinge'; choose one of cross_entropy, focal$"):
        TrainConfig(loss="hinge")
