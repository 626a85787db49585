"""Encoders by name: one door from a modality name to its numpy and torch functions.

Like timm's model registry: ``list_modalities()`` says what exists, ``get_modality(name)``
gives its spec (output channels, range, a code version that later stages put into cache
keys), and :func:`encode` / :func:`encode_batch` run it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.modalities import active, apex, flow, rank_pooling
from mesti.modalities.batch import ClipBatch


@dataclass(frozen=True)
class Modality:
    """One input modality: a pure function of a clip with a numpy and a batched torch path."""

    name: str
    numpy_fn: Callable[..., np.ndarray]
    torch_fn: Callable[..., torch.Tensor]
    channels: int
    output: str
    description: str
    version: str = "1"

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options the encoder takes (``scale``, ``channels`` ...)."""
        params = inspect.signature(self.numpy_fn).parameters
        return tuple(p for p in params if p != "clip")

    def check_options(self, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise MestiError(self.name, f"unknown option(s) {', '.join(unknown)}; it takes {', '.join(self.options) or 'none'}")


_REGISTRY: dict[str, Modality] = {}


def register_modality(modality: Modality) -> Modality:
    """Add ``modality`` under its name; a name is registered once."""
    if modality.name in _REGISTRY:
        raise ValueError(f"modality {modality.name!r} is already registered")
    _REGISTRY[modality.name] = modality
    return modality


def list_modalities() -> list[str]:
    """Names of every registered modality, sorted."""
    return sorted(_REGISTRY)


#: Modalities of the paper's Table I that cannot be built: their definition was never published.
UNPUBLISHED = {
    name: "the Affective motion image (AffectiveNet, Verma et al., IEEE MultiMedia 2021) is not offered: its "
          "definition is not public (no formula in the paper's text that mesti could check, no released code)"
    for name in ("affective_motion", "affective_motion_image", "affective_image", "affective")
}


def get_modality(name: str) -> Modality:
    """The spec of modality ``name``; a clear error lists the valid names."""
    if name in UNPUBLISHED:
        raise MestiError(name, UNPUBLISHED[name])
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MestiError("--modality", f"unknown modality {name!r}; choose one of {', '.join(list_modalities())}") from None


def encode(clip: Clip, modality: str, **options: Any) -> np.ndarray:
    """Encode one clip: ``H x W x C`` float32 (see the modality's ``output`` for its range)."""
    spec = get_modality(modality)
    spec.check_options(options)
    return spec.numpy_fn(clip, **options)


def encode_batch(
    clips: Sequence[Clip] | ClipBatch,
    modality: str,
    device: str | torch.device | None = None,
    **options: Any,
) -> torch.Tensor:
    """Encode several clips at once on ``device``: ``B x C x H x W`` float32.

    Gives the same images as :func:`encode` one clip at a time (clips of different lengths
    are zero padded and padded frames weigh nothing).
    """
    spec = get_modality(modality)
    spec.check_options(options)
    batch = clips if isinstance(clips, ClipBatch) else ClipBatch.from_clips(clips, device=device)
    return spec.torch_fn(batch, **options)


_RANK = "float32 H x W x C; minmax (default): 0..255 per image; symmetric: 127.5 +- 127.5 * mean change / symmetric_range, clipped; raw: the signed sum over 0..255 pixels"
_FLOW = "float32 H x W x 3; minmax (default): each channel 0..255; symmetric: u, v as 127.5 +- 127.5 * px / flow_range, the third channel 0..range -> 0..255; raw: pixels (u, v, magnitude) or unitless strain"

register_modality(Modality(
    "mesti", rank_pooling.mesti_numpy, rank_pooling.mesti_torch, 3, _RANK,
    "MESTI (the paper's Eq. 4, docs/method.md): frames weighted by rank towards the apex, onset..offset.",
))
register_modality(Modality(
    "dynamic_image", rank_pooling.dynamic_image_numpy, rank_pooling.dynamic_image_torch, 3, _RANK,
    "Dynamic image, Bilen's harmonic-number weights over onset..offset (variant='simplified' for 2t-T-1).",
))
register_modality(Modality(
    "dynamic_image_simplified",
    partial(rank_pooling.dynamic_image_numpy, variant="simplified"),
    partial(rank_pooling.dynamic_image_torch, variant="simplified"),
    3, _RANK, "Dynamic image with the simplified weights 2t - T - 1.",
))
register_modality(Modality(
    "apex", apex.apex_numpy, apex.apex_torch, 3, "float32 H x W x C, pixel values 0..255 unchanged",
    "The apex frame (static appearance).",
))
register_modality(Modality(
    "flow_onset_apex", partial(flow.flow_numpy, which="onset_apex"), partial(flow.flow_torch, which="onset_apex"),
    3, _FLOW, "TV-L1 flow onset -> apex as (u, v, strain) or channels='uvm' for (u, v, magnitude).",
))
register_modality(Modality(
    "flow_apex_offset", partial(flow.flow_numpy, which="apex_offset"), partial(flow.flow_torch, which="apex_offset"),
    3, _FLOW, "TV-L1 flow apex -> offset as (u, v, strain) or channels='uvm' for (u, v, magnitude).",
))
register_modality(Modality(
    "optical_strain", flow.strain_numpy, flow.strain_torch, 1,
    "float32 H x W x 1; minmax (default) 0..255; symmetric: 0..strain_range -> 0..255; raw: unitless strain",
    "Optical strain magnitude of the TV-L1 flow onset -> apex.",
))
register_modality(Modality(
    "active_image", active.active_image_numpy, active.active_image_torch, 3,
    "float32 H x W x 3, three equal grey channels; minmax (default) 0..255 per image; clip: the signed sum "
    "clipped to 0..255 as OrigiNet's release saves it; symmetric; raw: the signed sum",
    "Active image (OrigiNet): grey frames weighted 2t - T - 1 over onset..offset (variant='released' for the release's loop).",
))
