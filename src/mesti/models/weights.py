"""Reading weight files safely, and fitting them to a network.

Every state dict the project reads goes through :func:`read_state_dict`, which uses
``torch.load(weights_only=True)``: its unpickler accepts tensors and plain containers only,
so a weight file never runs code. :func:`load_weights` is the strict loader (checkpoints);
:func:`load_pretrained` is the lenient one for ``--pretrained`` (another input channel count,
another classifier).
"""

from __future__ import annotations

import math
import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from mesti.errors import MestiError
from mesti.models.info import ModelInfo, model_info

PathLike = str | os.PathLike[str]


def read_state_dict(path: PathLike) -> dict[str, Tensor]:
    """Read a state dict with ``torch.load(weights_only=True)`` onto the CPU.

    Anything but a mapping of names to tensors is refused; a pickle that references other
    Python objects (the way code execution hides in a checkpoint) is refused before any of
    it runs.
    """
    p = Path(path)
    if not p.is_file():
        raise MestiError(p, "no such file")
    try:
        with warnings.catch_warnings():  # torch's pickle-protocol notes would interleave with the one-line messages
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = next((ln.strip() for ln in str(exc).splitlines() if "nsupported" in ln), "not a tensor pickle")
        raise MestiError(p, f"refused: not a plain state dict of tensors ({reason}); loading it fully could run code from the file") from None
    except (EOFError, RuntimeError, OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise MestiError(p, f"not a readable PyTorch state dict ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'empty file'})") from None
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise MestiError(p, f"expected a state dict (names -> tensors), found {type(obj).__name__}")
    return dict(obj)


def _listing(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _num_classes(state: Mapping[str, Tensor], model: nn.Module) -> int | None:
    info = getattr(model, "model_info", None)
    for head in info.classifier if isinstance(info, ModelInfo) else ():
        bias = state.get(f"{head}.bias")
        weight = state.get(f"{head}.weight")
        if bias is not None:
            return int(bias.shape[0])
        if weight is not None:
            return int(weight.shape[0])
    return None


def check_state_dict(model: nn.Module, state: Mapping[str, Tensor], where: PathLike) -> None:
    """Raise a :class:`MestiError` naming what differs when ``state`` does not fit ``model``.

    A different class count is named as such; other differences (missing or extra weights,
    other shapes) mean the file holds another architecture or other options.
    """
    own = model.state_dict()
    config = getattr(model, "model_config", None)
    name = config["name"] if isinstance(config, dict) else type(model).__name__
    theirs, mine = _num_classes(state, model), _num_classes(own, model)
    if theirs is not None and mine is not None and theirs != mine:
        raise MestiError(where, f"holds weights for {theirs} classes; the {name} model has {mine}")
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weights missing ({_listing(missing)})")
    if extra:
        problems.append(f"{len(extra)} unexpected ({_listing(extra)})")
    if shapes:
        problems.append(f"{len(shapes)} of another shape ({_listing(shapes, 2)})")
    if problems:
        raise MestiError(where, f"does not fit the {name} model: " + "; ".join(problems) + "; was it saved from another architecture or with other options?")


def load_weights(model: nn.Module, path: PathLike) -> nn.Module:
    """Load checkpoint ``path`` into ``model`` after checking that it fits, exactly."""
    state = read_state_dict(path)
    check_state_dict(model, state, path)
    model.load_state_dict(state)
    return model


def adapt_input_conv(in_chans: int, weight: Tensor) -> Tensor:
    """Fit a first-conv weight ``O x I x kh x kw`` to ``in_chans`` inputs (timm's rule).

    One channel: the sum over the ``I`` input channels, so a grayscale image (R = G = B)
    gives the same response as before. Otherwise the channels are repeated cyclically and
    scaled by ``I / in_chans``: the response to an all-equal input is unchanged when
    ``in_chans`` is a multiple of ``I`` and of the same size otherwise.
    """
    have = weight.shape[1]
    if have == in_chans:
        return weight
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    repeats = math.ceil(in_chans / have)
    return weight.repeat(1, repeats, 1, 1)[:, :in_chans] * (have / in_chans)


def load_pretrained(model: nn.Module, path: PathLike) -> nn.Module:
    """Load a local state dict for fine-tuning: strict, with two allowed differences.

    The network's ``model_info.first_conv`` weights are adapted to its input channels
    (:func:`adapt_input_conv`), and its ``model_info.classifier`` weights keep their fresh
    initialisation when the file was trained for another class count. Everything else must
    match exactly.
    """
    state = read_state_dict(path)
    info = model_info(model)
    own = model.state_dict()
    for conv in info.first_conv:
        key = f"{conv}.weight"
        if key in state and key in own and state[key].dim() == 4 and state[key].shape[1] != own[key].shape[1]:
            state[key] = adapt_input_conv(own[key].shape[1], state[key])
    for head in info.classifier:
        keys = [f"{head}.{p}" for p in ("weight", "bias") if f"{head}.{p}" in own]
        if any(k in state and state[k].shape != own[k].shape for k in keys):
            state.update({k: own[k] for k in keys})
    check_state_dict(model, state, path)
    model.load_state_dict(state)
    return model
