"""mesti: facial micro-expression recognition with MESTI rank-pooling images and MEGANet.

The package is laid out in the order data flows through it:
``clips`` (what a clip is, how it is read) -> ``modalities`` (a clip as one image) ->
later stages (datasets, preprocessing, models, training, reports), with ``cli`` on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mesti.clips import Clip, load_clip
from mesti.errors import MestiError
from mesti.modalities import encode, encode_batch, get_modality, list_modalities

if TYPE_CHECKING:
    from mesti.training.inference import FoldEnsemble, Predictor

__version__ = "0.1.0"


def load_model(path: str | Path) -> Predictor | FoldEnsemble:
    """A trained model with ``.predict(clip)``: a bundle folder (``mesti train``), a fold
    checkpoint ``.pt``, or a run directory with saved checkpoints (a fold ensemble)."""
    from mesti.training.inference import load_model as _load_model

    return _load_model(path)


__all__ = [
    "Clip",
    "MestiError",
    "encode",
    "encode_batch",
    "get_modality",
    "list_modalities",
    "load_clip",
    "load_model",
    "__version__",
]
