"""Input modalities: a clip as one image (MESTI, dynamic image, apex, TV-L1 flow, strain)."""

from mesti.modalities.batch import ClipBatch
from mesti.modalities.flow import TVL1Params, optical_strain_numpy, optical_strain_torch, tvl1_flow
from mesti.modalities.rank_pooling import bilen_weights, mesti_weights, simplified_rank_weights
from mesti.modalities.registry import (
    Modality,
    encode,
    encode_batch,
    get_modality,
    list_modalities,
    register_modality,
)
from mesti.modalities.scaling import SCALE_MODES

__all__ = [
    "SCALE_MODES",
    "ClipBatch",
    "Modality",
    "TVL1Params",
    "bilen_weights",
    "encode",
    "encode_batch",
    "get_modality",
    "list_modalities",
    "mesti_weights",
    "optical_strain_numpy",
    "optical_strain_torch",
    "register_modality",
    "simplified_rank_weights",
    "tvl1_flow",
]
