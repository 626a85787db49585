"""One door to every network: ``create_model(name, num_classes)`` and ``list_models()``.

Built like timm's registry: a decorator registers each constructor under its name together
with a :class:`ModelInfo` (input size, source, native training recipe). Every model that
:func:`create_model` returns carries ``model.model_info`` (with the input size of that
instance) and ``model.model_config`` (the arguments that rebuild it, which checkpoints
store), so the data pipeline asks the model what input it needs instead of guessing.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from torch import nn

from mesti.errors import MestiError
from mesti.models.info import ModelInfo
from mesti.models.weights import load_pretrained
from mesti.utils.registry import Registry

ModelFn = Callable[..., nn.Module]


@dataclass(frozen=True)
class _Entry:
    fn: ModelFn
    info: ModelInfo = field(compare=False)


MODELS: Registry[_Entry] = Registry("model", "--model")


def register_model(
    *,
    input_size: tuple[int, int, int],
    source: str,
    description: str,
    native_recipe: Mapping[str, Any] | None = None,
    first_conv: tuple[str, ...] = (),
    classifier: tuple[str, ...] = (),
    name: str | None = None,
) -> Callable[[ModelFn], ModelFn]:
    """Register a constructor ``fn(num_classes, in_chans, img_size, **kwargs)`` by its name.

    The constructor receives ``img_size`` as ``(H, W)``; networks whose layer sizes do not
    depend on it may ignore it.
    """

    def deco(fn: ModelFn) -> ModelFn:
        key = name or fn.__name__
        recipe = MappingProxyType(dict(native_recipe)) if native_recipe is not None else None  # read-only: shared by every caller
        info = ModelInfo(key, tuple(input_size), source, description, recipe, tuple(first_conv), tuple(classifier))  # type: ignore[arg-type]
        MODELS.register(key, _Entry(fn, info), description=description)
        return fn

    return deco


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, sorted; ``pattern`` filters with shell wildcards (``"meganet*"``)."""
    return MODELS.list(pattern)


def _entry(name: str) -> _Entry:
    return MODELS.get(name)


def get_model_info(name: str) -> ModelInfo:
    """The registered :class:`ModelInfo` of ``name`` (its default input size)."""
    return _entry(name).info


def input_channels(name: str, kwargs: Mapping[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """The channels network ``name`` takes and the rest of its options.

    ``in_chans`` among a network's options (a grid's ``model_kwargs: {micro_attention:
    {in_chans: 3}}``) sets what the data pipeline must feed, not only the network: callers
    fit the images to it and pass it to :func:`create_model` once.
    """
    rest = dict(kwargs or {})
    chans = rest.pop("in_chans", get_model_info(name).in_chans)
    if isinstance(chans, bool) or not isinstance(chans, int) or chans < 1:
        raise MestiError(f"model {name}", f"in_chans must be a positive int, got {chans!r}")
    return chans, rest


def _img_size(value: int | tuple[int, int] | list[int] | None, default: tuple[int, int]) -> tuple[int, int]:
    if value is None:
        return default
    size = (value, value) if isinstance(value, int) else tuple(value)
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise MestiError("img_size", f"expected a positive int or (H, W), got {value!r}")
    return size  # type: ignore[return-value]


def _options(fn: Callable[..., nn.Module]) -> list[str]:
    """The keyword options a constructor takes beyond the common three (those of the network
    class it returns, where it passes ``**kwargs`` on, and the fields of that class's
    ``options_class`` where it takes its options as one object), for messages."""
    fixed = {"self", "num_classes", "in_chans", "img_size"}

    def named(target: Callable[..., Any]) -> tuple[list[str], bool]:
        try:
            params = inspect.signature(target).parameters.values()
        except (TypeError, ValueError):
            return [], False
        plain = [p.name for p in params if p.name not in fixed and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        return plain, any(p.kind is p.VAR_KEYWORD for p in params)

    names, more = named(fn)
    if more:
        try:
            returned = inspect.signature(fn, eval_str=True).return_annotation
        except (NameError, TypeError, ValueError):
            returned = None
        if isinstance(returned, type):
            names += named(returned.__init__)[0]
            options_class = getattr(returned, "options_class", None)
            if dataclasses.is_dataclass(options_class):
                names = [n for n in names if n != "config"] + [f.name for f in dataclasses.fields(options_class)]
    return sorted(set(names))


def create_model(
    name: str,
    num_classes: int,
    in_chans: int | None = None,
    img_size: int | tuple[int, int] | None = None,
    pretrained: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build network ``name`` with ``num_classes`` outputs (logits; softmax is in the loss).

    Args:
        in_chans: input channels; ``None`` takes the network's own (3 for most, 2 for
            OFF-ApexNet's u/v flow, 1 for Micro-Attention's grayscale apex).
        img_size: ``H`` or ``(H, W)``; ``None`` takes the network's own.
        pretrained: a local state-dict file. Loaded strictly, except that a first conv with
            another channel count is adapted (see :func:`~mesti.models.weights.adapt_input_conv`)
            and a classifier for another class count keeps its fresh initialisation.
        kwargs: network options (e.g. ``use_ga=False`` for MEGANet).
    """
    entry = _entry(name)
    info = entry.info
    chans = info.in_chans if in_chans is None else in_chans
    size = _img_size(img_size, info.img_size)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise MestiError(f"model {name}", f"num_classes must be a positive int, got {num_classes!r}")
    if not isinstance(chans, int) or chans < 1:
        raise MestiError(f"model {name}", f"in_chans must be a positive int, got {chans!r}")
    try:
        model = entry.fn(num_classes=num_classes, in_chans=chans, img_size=size, **kwargs)
    except MestiError:
        raise
    except ValueError as exc:  # networks validate their options with ValueError, like torch
        raise MestiError(f"model {name}", str(exc)) from exc
    except TypeError as exc:
        if "unexpected keyword argument" not in str(exc):
            raise
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        takes = ", ".join(_options(entry.fn)) or "none"
        raise MestiError(f"model {name}", f"unknown option {unknown.group(1) if unknown else '?'!r}; it takes {takes}") from None
    present = dict(model.named_modules())  # ablations may remove a first conv (MEGANet without GA)
    first_conv = tuple(n for n in info.first_conv if n in present)
    setattr(model, "model_info", replace(info, input_size=(chans, *size), first_conv=first_conv))  # noqa: B010
    config = {"name": name, "num_classes": num_classes, "in_chans": chans, "img_size": list(size), "kwargs": dict(kwargs)}
    setattr(model, "model_config", config)  # noqa: B010
    if pretrained is not None:
        load_pretrained(model, pretrained)
    return model


def num_params(model: nn.Module, trainable: bool = True) -> int:
    """Parameter count; ``trainable`` counts only those with ``requires_grad``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)
