"""A trained model as one folder (weights, network config, pipeline, provenance, card).

This layer sits on the models: it reads and writes trained artefacts and knows nothing of
how they were trained (that is :mod:`mesti.bundle.train`).
"""

from mesti.bundle.card import model_card
from mesti.bundle.estimate import read_estimate
from mesti.bundle.format import FORMAT_VERSION, Bundle, is_bundle, read_bundle, save_bundle
from mesti.pipeline import Pipeline

__all__ = ["FORMAT_VERSION", "Bundle", "Pipeline", "is_bundle", "model_card", "read_bundle", "read_estimate",
           "save_bundle"]
