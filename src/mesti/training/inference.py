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
from mesti.training.folds import fit_input


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
        except ValueError as exc:
            raise MestiError(pipe, f"not valid JSON ({exc})") from None
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
