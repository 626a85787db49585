"""The input pipeline, built once and called by every path into a network.

preprocess (face step, crop size, equalisation) -> encode (modality and options) -> fit
(the network's channels and size) -> normalise (the trained statistics). Sits beside the
cache and the models: the cache builder runs its clip half, training its fit, ``predict``,
``analyze`` and the spotter's classifier the whole chain.
"""

from mesti.pipeline.resolve import (
    DEFAULT_SIZE,
    encoding_pipeline,
    recorded_inputs,
    resolve_input,
    resolve_pipeline,
    resolve_preprocess,
)
from mesti.pipeline.schema import (
    PIPELINE_VERSION,
    pipeline_from_dict,
    pipeline_to_dict,
    read_pipeline,
    write_pipeline,
)
from mesti.pipeline.steps import PRECOMPUTED, CropFactory, Normalization, Pipeline, fit_input

__all__ = [
    "DEFAULT_SIZE",
    "PIPELINE_VERSION",
    "PRECOMPUTED",
    "CropFactory",
    "Normalization",
    "Pipeline",
    "encoding_pipeline",
    "fit_input",
    "pipeline_from_dict",
    "pipeline_to_dict",
    "read_pipeline",
    "recorded_inputs",
    "resolve_input",
    "resolve_pipeline",
    "resolve_preprocess",
    "write_pipeline",
]
