"""The one resolver: from the model's and the modality's declared needs to a :class:`Pipeline`.

Like timm's ``resolve_data_config`` + ``create_transform``: the network input (channels and
size) comes from the model registry (``in_chans`` among the model's options, ``--img-size``
over its default), the image from the modality and its options, the crops from the
preprocessing settings. Nothing else in mesti works these out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesti.pipeline.schema import parse_preprocess
from mesti.pipeline.steps import Pipeline
from mesti.preprocessing.config import PreprocessConfig
from mesti.utils.ranges import IMG_SIZE

#: The side of the face crops clips are prepared at when no size is given (the paper's).
DEFAULT_SIZE = 224


def resolve_input(model: str, model_kwargs: Mapping[str, Any] | None = None,
                  img_size: int | None = None) -> tuple[tuple[int, int, int], dict[str, Any]]:
    """The network's ``(C, H, W)`` and the rest of its options (what ``create_model`` takes
    beside ``in_chans`` and ``img_size``): ``img_size`` over the model's registered size."""
    from mesti.models import get_model_info, input_channels

    info = get_model_info(model)
    in_chans, rest = input_channels(model, model_kwargs)
    if img_size is not None:
        IMG_SIZE.check(img_size)
    h, w = (img_size, img_size) if img_size else tuple(info.img_size)
    return (in_chans, h, w), rest


def resolve_preprocess(face: str = "dlib-hog", equalize: str | bool = "frame", size: int | None = None) -> PreprocessConfig:
    """The face step, equalisation and crop size of clips (``size`` defaults to the paper's 224)."""
    return PreprocessConfig(face=face, equalize=equalize, size=DEFAULT_SIZE if size is None else size)  # type: ignore[arg-type]


def encoding_pipeline(modality: str, options: Mapping[str, Any] | None = None,
                      preprocess: PreprocessConfig | None = None) -> Pipeline:
    """The clip half of a pipeline (face step, modality): what the cache builder runs."""
    return Pipeline(modality, dict(options or {}), preprocess)


def resolve_pipeline(model: str, *, model_kwargs: Mapping[str, Any] | None = None, img_size: int | None = None,
                     classes: tuple[str, ...] | list[str] = (), modality: str | None = None,
                     modality_options: Mapping[str, Any] | None = None, preprocess: Any = None) -> Pipeline:
    """A network's whole input pipeline. ``preprocess``: a :class:`PreprocessConfig`, or the
    settings as a run records them (``PreprocessConfig.effective()``, or ``{"resize": n}`` for
    precomputed images), or ``None`` (frames encoded as they are)."""
    size, _ = resolve_input(model, model_kwargs, img_size)
    if isinstance(preprocess, PreprocessConfig):
        config, resize = preprocess, None
    else:
        config, resize = parse_preprocess(modality, preprocess, "preprocess")
    return Pipeline(modality, dict(modality_options or {}), config, size, tuple(classes), resize=resize)


def recorded_inputs(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """The clip half as ``load_samples`` records it for a run (its ``meta``): modality, its
    options and the preprocessing, as keyword arguments of :func:`resolve_pipeline`."""
    meta = meta or {}
    return {"modality": meta.get("modality"), "modality_options": meta.get("modality_options"),
            "preprocess": meta.get("preprocess")}
