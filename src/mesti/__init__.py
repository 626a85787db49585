"""mesti: facial micro-expression recognition with MESTI rank-pooling images and MEGANet.

The package is laid out in the order data flows through it:
``clips`` (what a clip is, how it is read) -> ``modalities`` (a clip as one image) ->
later stages (datasets, preprocessing, models, training, reports), with ``cli`` on top.
"""

from mesti.clips import Clip, load_clip
from mesti.errors import MestiError
from mesti.modalities import encode, encode_batch, get_modality, list_modalities

__version__ = "0.1.0"

__all__ = [
    "Clip",
    "MestiError",
    "encode",
    "encode_batch",
    "get_modality",
    "list_modalities",
    "load_clip",
    "__version__",
]
