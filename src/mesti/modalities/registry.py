"""Encoders by name: one door from a modality name to its numpy and torch functions.

Like timm's model registry: ``list_modalities()`` says what exists, ``get_modality(name)``
gives its spec (output channels, range, declared options, a code version that later stages
put into cache keys), and :func:`encode` / :func:`encode_batch` run it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.modalities import active, affective, apex, flow, rank_pooling
from mesti.modalities.batch import ClipBatch
from mesti.modalities.flow import CHANNEL_SETS, DEFAULT_FLOW_RANGE, DEFAULT_STRAIN_RANGE, STRAIN_SCHEMES, TVL1Params
from mesti.modalities.options import Option, resolve_options
from mesti.modalities.rank_pooling import DEFAULT_SYMMETRIC_RANGE
from mesti.modalities.scaling import SCALE_MODES
from mesti.utils.registry import Registry


@dataclass(frozen=True)
class Modality:
    """One input modality: a pure function of a clip with a numpy and a batched torch path.

    ``params`` declares every option the encoders take; nothing else reaches them.
    """

    name: str
    numpy_fn: Callable[..., np.ndarray]
    torch_fn: Callable[..., torch.Tensor]
    channels: int
    output: str
    description: str
    params: tuple[Option, ...] = ()
    version: str = "1"

    @property
    def options(self) -> tuple[str, ...]:
        """Names of the keyword options the encoder takes (``scale``, ``channels`` ...)."""
        return tuple(o.name for o in self.params)

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Every option with its value (given ones checked, the rest defaults); refuses
        unknown names, wrong types and values out of range."""
        return resolve_options(self.name, self.params, options)


MODALITIES: Registry[Modality] = Registry("modality", "--modality")


def register_modality(modality: Modality) -> Modality:
    """Add ``modality`` under its name; a name is registered once."""
    return MODALITIES.register(modality.name, modality, description=modality.description)


def list_modalities(pattern: str | None = None) -> list[str]:
    """Names of every registered modality, sorted; ``pattern`` filters with shell wildcards."""
    return MODALITIES.list(pattern)


def get_modality(name: str) -> Modality:
    """The spec of modality ``name``; a clear error lists the valid names."""
    return MODALITIES.get(name)


def encode(clip: Clip, modality: str, **options: Any) -> np.ndarray:
    """Encode one clip: ``H x W x C`` float32 (see the modality's ``output`` for its range)."""
    spec = get_modality(modality)
    return spec.numpy_fn(clip, **spec.check_options(options))


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
    resolved = spec.check_options(options)
    batch = clips if isinstance(clips, ClipBatch) else ClipBatch.from_clips(clips, device=device)
    return spec.torch_fn(batch, **resolved)


_SCALE = Option("scale", str, "minmax", "minmax: 0..255 per image; symmetric: a fixed scale around zero; raw: the float values",
                choices=SCALE_MODES)
_SYM = Option("symmetric_range", float, DEFAULT_SYMMETRIC_RANGE,
              "symmetric scale: mean grey-level change that reaches white", gt=0)
_CHANNELS = Option("channels", str, "uvs", "flow channels: uvs (u, v, strain) or uvm (u, v, magnitude)", choices=CHANNEL_SETS)
_SCHEME = Option("strain_scheme", str, "backward", "strain derivatives (backward as in STSTNet's os.m)", choices=STRAIN_SCHEMES)
_FLOW_RANGE = Option("flow_range", float, DEFAULT_FLOW_RANGE, "symmetric scale: flow in pixels that reaches full scale", gt=0)
_STRAIN_RANGE = Option("strain_range", float, DEFAULT_STRAIN_RANGE, "symmetric scale: strain that reaches full scale", gt=0)
_TVL1 = Option("tvl1", TVL1Params, None, "OpenCV Dual TV-L1 settings (None: OpenCV's defaults)")
_RANK_OPTIONS = (_SCALE, _SYM)
_FLOW_OPTIONS = (_CHANNELS, _SCALE, _SCHEME, _FLOW_RANGE, _STRAIN_RANGE, _TVL1)

_RANK = "float32 H x W x C; minmax (default): 0..255 per image; symmetric: 127.5 +- 127.5 * mean change / symmetric_range, clipped; raw: the signed sum over 0..255 pixels"
_FLOW = "float32 H x W x 3; minmax (default): each channel 0..255; symmetric: u, v as 127.5 +- 127.5 * px / flow_range, the third channel 0..range -> 0..255; raw: pixels (u, v, magnitude) or unitless strain"

register_modality(Modality(
    "mesti", rank_pooling.mesti_numpy, rank_pooling.mesti_torch, 3, _RANK,
    "MESTI (the paper's Eq. 4, docs/method.md): frames weighted by rank towards the apex, onset..offset.", _RANK_OPTIONS,
))
register_modality(Modality(
    "dynamic_image", rank_pooling.dynamic_image_numpy, rank_pooling.dynamic_image_torch, 3, _RANK,
    "Dynamic image, Bilen's harmonic-number weights over onset..offset (variant='simplified' for 2t-T-1).",
    (Option("variant", str, "bilen", "rank-pooling weights: bilen (harmonic numbers) or simplified (2t - T - 1)",
            choices=("bilen", "simplified")), *_RANK_OPTIONS),
))
register_modality(Modality(
    "dynamic_image_simplified",
    partial(rank_pooling.dynamic_image_numpy, variant="simplified"),
    partial(rank_pooling.dynamic_image_torch, variant="simplified"),
    3, _RANK, "Dynamic image with the simplified weights 2t - T - 1.", _RANK_OPTIONS,
))
register_modality(Modality(
    "apex", apex.apex_numpy, apex.apex_torch, 3, "float32 H x W x C, pixel values 0..255 unchanged",
    "The apex frame (static appearance).", (),
))
register_modality(Modality(
    "flow_onset_apex", partial(flow.flow_numpy, which="onset_apex"), partial(flow.flow_torch, which="onset_apex"),
    3, _FLOW, "TV-L1 flow onset -> apex as (u, v, strain) or channels='uvm' for (u, v, magnitude).", _FLOW_OPTIONS,
))
register_modality(Modality(
    "flow_apex_offset", partial(flow.flow_numpy, which="apex_offset"), partial(flow.flow_torch, which="apex_offset"),
    3, _FLOW, "TV-L1 flow apex -> offset as (u, v, strain) or channels='uvm' for (u, v, magnitude).", _FLOW_OPTIONS,
))
register_modality(Modality(
    "optical_strain", flow.strain_numpy, flow.strain_torch, 1,
    "float32 H x W x 1; minmax (default) 0..255; symmetric: 0..strain_range -> 0..255; raw: unitless strain",
    "Optical strain magnitude of the TV-L1 flow onset -> apex.", (_SCALE, _SCHEME, _STRAIN_RANGE, _TVL1),
))
register_modality(Modality(
    "active_image", active.active_image_numpy, active.active_image_torch, 3,
    "float32 H x W x 3, three equal grey channels; minmax (default) 0..255 per image; clip: the signed sum "
    "clipped to 0..255 as OrigiNet's release saves it; symmetric; raw: the signed sum",
    "Active image (OrigiNet): grey frames weighted 2t - T - 1 over onset..offset (variant='released' for the release's loop).",
    (Option("variant", str, "intended", "intended: the paper's 2t - T - 1; released: the released code's loop",
            choices=active.VARIANTS),
     Option("scale", str, "minmax", "minmax: 0..255 per image; clip: the signed sum clipped to 0..255 as the release "
            "saves it; symmetric: a fixed scale around zero; raw: the float values", choices=("clip", *SCALE_MODES))),
))
register_modality(Modality(
    "affective_motion", affective.affective_motion_numpy, affective.affective_motion_torch, 3,
    "float32 H x W x C, non-negative; minmax (default) 0..255 per image; symmetric: 0..symmetric_range grey levels "
    "of mean change per frame step -> 0..255; raw: the sum",
    "Affective motion image (AffectiveNet), mesti's reading: |I_t+1 - I_t| summed over onset..offset; "
    "the paper's own equation could not be checked (docs/method.md).", _RANK_OPTIONS,
))
