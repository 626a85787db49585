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
    from mesti.analysis import Analysis
    from mesti.training.inference import FoldEnsemble, Predictor

__version__ = "0.1.0"


def load_model(path: str | Path, allow_partial: bool = False) -> Predictor | FoldEnsemble:
    """A trained model with ``.predict(clip)``: a bundle folder (``mesti train``), a fold
    checkpoint ``.pt``, or a run directory with saved checkpoints (a fold ensemble; one that
    is unfinished or lacks a fold's checkpoint only with ``allow_partial``)."""
    from mesti.training.inference import load_model as _load_model

    return _load_model(path, allow_partial)


def analyze(video: str | Path, model: str | Path | Predictor | FoldEnsemble, method: str = "flow",
            fps: float | None = None, truth: str | Path | None = None) -> Analysis:
    """Spot the expressions of a long video and classify each with a trained model.

    ``model`` is what :func:`load_model` takes or returns; ``truth`` (a sheet or interval CSV)
    adds the spot-then-recognise scores. ``.intervals`` holds onset/apex/offset, type, spot
    score, class, probabilities and pictures; ``.write(folder)`` writes the HTML report."""
    from mesti.analysis import analyze as _analyze

    return _analyze(video, model, method=method, fps=fps, truth=truth)


__all__ = [
    "analyze",
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
