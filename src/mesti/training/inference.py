"""Predicting one clip with a trained fold model, through the same pipeline it was trained on.

A checkpoint ``X.pt`` (weights) comes with ``X.json`` (how to rebuild the network) and
``X.pipeline.json`` (classes, modality and its options, face preprocessing, input
normalisation): the clip is preprocessed, encoded and normalised exactly as in training.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.training.engine import fit_input


def pipeline_path(checkpoint: str | Path) -> Path:
    """``fold.pt`` -> ``fold.pipeline.json``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".pipeline.json")


@dataclass
class Prediction:
    """Class probabilities for one clip, and the pictures that explain them."""

    label: str
    probabilities: dict[str, float]
    image: np.ndarray  # the encoded modality, H x W x C (the preprocessed clip's)
    attention: np.ndarray | None  # MEGANet's gradient-attention map at network input size


#: What a pipeline file must hold, and the JSON type of each entry.
_PIPELINE_KEYS: dict[str, type | tuple[type, ...]] = {"classes": list, "normalize": dict, "input_size": list}


def _check_pipeline(path: Path, pipeline: Any) -> None:
    """A pipeline file of the wrong shape is one clear error, not a KeyError later."""
    if not isinstance(pipeline, dict):
        raise MestiError(path, f"a pipeline file is a JSON object, not {type(pipeline).__name__}")
    for key, kind in _PIPELINE_KEYS.items():
        if not isinstance(pipeline.get(key), kind):
            raise MestiError(path, f"'{key}' is missing or not a {kind.__name__ if isinstance(kind, type) else kind}")
    norm = pipeline["normalize"]
    if not (isinstance(norm.get("mean"), list) and isinstance(norm.get("std"), list)):
        raise MestiError(path, "'normalize' needs 'mean' and 'std' lists")
    size = pipeline["input_size"]
    if len(size) != 3 or not all(isinstance(v, int) and v > 0 for v in size):
        raise MestiError(path, f"'input_size' must be [channels, height, width], got {size}")
    if not pipeline["classes"] or not all(isinstance(c, str) for c in pipeline["classes"]):
        raise MestiError(path, "'classes' must list the class names")
    for key in ("modality_options", "preprocess"):
        if pipeline.get(key) is not None and not isinstance(pipeline[key], dict):
            raise MestiError(path, f"'{key}' must be a JSON object")


class Predictor:
    """A fold model plus its pipeline; ``predict(clip)`` runs the whole chain."""

    def __init__(self, model: torch.nn.Module, pipeline: dict[str, Any]) -> None:
        self.model = model.eval()
        self.pipeline = pipeline
        self.classes: list[str] = list(pipeline["classes"])

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path) -> Predictor:
        from mesti.models.checkpoint import load_checkpoint

        path = Path(checkpoint)
        if path.is_dir():
            found = sorted(path.glob("*.pt")) or sorted((path / "checkpoints").glob("*.pt"))
            if not found:
                raise MestiError(path, "no checkpoint (*.pt) here; train with --save-checkpoints")
            path = found[0]
        pipe = pipeline_path(path)
        if not pipe.is_file():
            raise MestiError(path, f"no pipeline file beside it ({pipe.name}); it was not saved by a mesti run")
        try:
            pipeline = json.loads(pipe.read_text())
        except (ValueError, OSError) as exc:
            raise MestiError(pipe, f"not valid JSON ({exc})") from None
        _check_pipeline(pipe, pipeline)
        model = load_checkpoint(path, num_classes=len(pipeline["classes"]))
        return cls(model, pipeline)

    @torch.no_grad()
    def predict(self, clip: Clip) -> Prediction:
        from mesti.modalities import encode
        from mesti.preprocessing import PreprocessConfig, preprocess_clip

        pre = {k: v for k, v in (self.pipeline.get("preprocess") or {}).items() if k != "version"}
        if pre:
            clip = preprocess_clip(clip, PreprocessConfig(**pre))
        modality = self.pipeline.get("modality")
        if not modality:
            raise MestiError("checkpoint", "was trained on precomputed images: give it an image, not a clip")
        image = encode(clip, modality, **(self.pipeline.get("modality_options") or {}))
        c, h, w = self.pipeline["input_size"]
        x = fit_input(torch.from_numpy(image).permute(2, 0, 1)[None].float(), (h, w), c)
        norm = self.pipeline["normalize"]
        mean = torch.tensor(norm["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(norm["std"]).view(1, -1, 1, 1)
        x = (x - mean) / std
        probs = self.model(x).softmax(dim=1)[0].tolist()
        attention = None
        ga = getattr(self.model, "ga", None)
        if ga is not None and hasattr(ga, "attention_map"):
            attention = ga.attention_map(x)[0, 0].numpy()
        best = int(np.argmax(probs))
        return Prediction(self.classes[best], dict(zip(self.classes, map(float, probs), strict=True)), image, attention)
