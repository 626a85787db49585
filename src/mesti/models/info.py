"""What a network expects and where it comes from; read from any model :func:`create_model` built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from mesti.errors import MestiError


@dataclass(frozen=True)
class ModelInfo:
    """What a network expects and where it comes from.

    Attributes:
        name: registry name.
        input_size: ``(C, H, W)`` the network was designed for (for an instance: what it was
            built with).
        source: citation of the paper (and code) the network follows.
        description: one line for ``mesti models``.
        native_recipe: the training recipe of the network's own paper (optimizer, lr,
            weight_decay, batch_size, epochs, loss, augment, notes), or ``None`` when the
            network is trained with this project's recipe (docs/method.md, Training). A key set to
            ``None`` is one the source does not state.
        first_conv: modules whose input is the image (their weights follow ``in_chans``).
        classifier: modules whose output is the logits (their weights follow
            ``num_classes``).
    """

    name: str
    input_size: tuple[int, int, int]
    source: str
    description: str
    native_recipe: Mapping[str, Any] | None = None
    first_conv: tuple[str, ...] = ()
    classifier: tuple[str, ...] = ()

    @property
    def in_chans(self) -> int:
        return self.input_size[0]

    @property
    def img_size(self) -> tuple[int, int]:
        return self.input_size[1], self.input_size[2]


def model_info(model: nn.Module) -> ModelInfo:
    """``model.model_info``: what this instance expects; only :func:`create_model` sets it."""
    info = getattr(model, "model_info", None)
    if not isinstance(info, ModelInfo):
        raise MestiError(type(model).__name__, "has no model_info; build networks with mesti.models.create_model")
    return info


def model_config(model: nn.Module) -> dict[str, Any]:
    """``model.model_config``: the :func:`create_model` arguments that rebuild this instance."""
    config = getattr(model, "model_config", None)
    if not isinstance(config, dict):
        raise MestiError(type(model).__name__, "has no model_config; build networks with mesti.models.create_model")
    return config
