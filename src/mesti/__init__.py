"""mesti: facial micro-expression recognition with MESTI rank-pooling images and MEGANet.

The package is laid out in the order data flows through it: ``clips`` and ``datasets`` ->
``preprocessing`` -> ``modalities`` -> ``models`` -> ``engine`` (training one fold, the
stacked engine) -> ``studies`` (protocols run, grids, executors) and ``bundle`` (train on
all, the predictor) -> ``spotting``, ``analysis``, ``reports``, with ``cli`` on top. This
module is the public facade over them; no module of the package imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mesti._version import __version__
from mesti.clips import Clip, load_clip
from mesti.errors import MestiError
from mesti.modalities import encode, encode_batch, get_modality, list_modalities

if TYPE_CHECKING:
    from mesti.analysis import Analysis
    from mesti.bundle.predictor import FoldEnsemble, Predictor



def load_model(path: str | Path, allow_partial: bool = False) -> Predictor | FoldEnsemble:
    """A trained model with ``.predict(clip)``: a bundle folder (``mesti train``), a fold
    checkpoint ``.pt``, or a run directory with saved checkpoints (a fold ensemble; one that
    is unfinished or lacks a fold's checkpoint only with ``allow_partial``)."""
    from mesti.bundle.predictor import load_model as _load_model

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
