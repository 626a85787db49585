"""Checkpoints: a plain state dict (``x.pt``) plus the config that rebuilds the network (``x.json``).

Loading goes through ``torch.load(weights_only=True)`` only, whose unpickler accepts tensors
and plain containers and nothing else: a checkpoint file never runs code, and a file that
tries to (a pickle that calls ``os.system`` on load) is refused with a one-line error.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mesti._version import __version__
from mesti.errors import MestiError
from mesti.models.info import model_config
from mesti.models.registry import create_model
from mesti.models.weights import load_weights
from mesti.utils.atomic import write_bytes, write_json

PathLike = str | os.PathLike[str]
FORMAT = "mesti-model"
FORMAT_VERSION = 1
_CONFIG_KEYS = ("name", "num_classes", "in_chans", "img_size", "kwargs")


def config_path(path: PathLike) -> Path:
    """The JSON config that travels with checkpoint ``path``: ``x.pt`` -> ``x.json``."""
    return Path(path).with_suffix(".json")


def save_checkpoint(model: nn.Module, path: PathLike) -> Path:
    """Write the state dict to ``path`` and its config to :func:`config_path`, each atomically.

    The model must come from :func:`~mesti.models.create_model`, which records the
    arguments that rebuild it; its options must be JSON values.
    """
    config = model_config(model)
    payload: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "mesti_version": __version__, **config}
    try:
        json.dumps(payload)
    except TypeError as exc:
        raise MestiError(path, f"model options must be JSON values to be saved: {exc}") from None
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    write_bytes(path, buf.getvalue())
    write_json(config_path(path), payload)
    return Path(path)


def read_config(path: PathLike) -> dict[str, Any]:
    """The config saved beside checkpoint ``path`` (name, num_classes, in_chans, img_size, kwargs)."""
    cfg_path = config_path(path)
    if not Path(path).is_file():
        raise MestiError(path, "no such checkpoint file")
    if not cfg_path.is_file():
        raise MestiError(path, f"no model config beside it (expected {cfg_path.name}); was it written by mesti?")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MestiError(cfg_path, f"not valid JSON ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise MestiError(cfg_path, f"not a mesti model config (no \"format\": \"{FORMAT}\")")
    missing = [k for k in _CONFIG_KEYS if k not in cfg]
    if missing:
        raise MestiError(cfg_path, f"model config lacks {', '.join(missing)}")
    return cfg


def load_checkpoint(path: PathLike, *, name: str | None = None, num_classes: int | None = None) -> nn.Module:
    """Rebuild the network saved at ``path`` and load its weights (on the CPU).

    ``name`` and ``num_classes``, when given, are what the caller expects: a checkpoint of
    another architecture or class count is refused with a clear error before any weights
    are read.
    """
    cfg = read_config(path)
    if name is not None and cfg["name"] != name:
        raise MestiError(path, f"is a {cfg['name']} checkpoint, not {name}")
    if num_classes is not None and cfg["num_classes"] != num_classes:
        raise MestiError(path, f"holds a {cfg['num_classes']}-class model; {num_classes} classes were expected")
    model = create_model(cfg["name"], cfg["num_classes"], in_chans=cfg["in_chans"], img_size=tuple(cfg["img_size"]), **cfg["kwargs"])
    model = load_weights(model, path)
    for key, value in model.state_dict().items():  # a NaN weight makes every prediction NaN, silently
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise MestiError(path, f"weight {key} holds NaN or infinite values: the model is damaged "
                                   "(or its training diverged); train it again")
    return model
