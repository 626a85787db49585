"""Predicting a clip with any trained artefact, through the pipeline it was trained on.

:func:`load_model` accepts the three things mesti trains:

- a bundle folder (``mesti train``): one network trained on every subject;
- a fold checkpoint ``X.pt`` (``--save-checkpoints``), with ``X.json`` (how to rebuild the
  network) and ``X.pipeline.json`` (the :class:`~mesti.bundle.Pipeline`);
- a run directory with saved checkpoints: a **fold ensemble**, the mean of the fold
  models' class probabilities (each fold model normalises with its own training statistics).

Every output names which of these produced it (``Prediction.model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mesti.bundle import Pipeline, is_bundle, read_bundle
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
    model: str = ""  # what predicted it: a bundle, a fold checkpoint, or a fold ensemble


class Predictor:
    """One network plus its pipeline; ``predict(clip)`` runs the whole chain."""

    def __init__(self, model: torch.nn.Module, pipeline: Pipeline, name: str = "model") -> None:
        self.model = model.eval()
        self.pipeline = pipeline
        self.classes: list[str] = list(pipeline.classes)
        self.name = name

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path) -> Predictor:
        """A single fold checkpoint ``X.pt`` with its ``X.pipeline.json``."""
        from mesti.models.checkpoint import load_checkpoint, read_config

        path = Path(checkpoint)
        if not path.is_file():
            raise MestiError(path, "no such checkpoint file")
        pipe = pipeline_path(path)
        if not pipe.is_file():
            raise MestiError(path, f"no pipeline file beside it ({pipe.name}); it was not saved by a mesti run")
        pipeline = Pipeline.read(pipe)
        pipeline.check_model(read_config(path), path)
        fold = f" {pipeline.fold}" if pipeline.fold else ""
        return cls(load_checkpoint(path), pipeline, f"fold checkpoint{fold} ({path})")

    @classmethod
    def from_bundle(cls, folder: str | Path) -> Predictor:
        bundle = read_bundle(folder)
        return cls(bundle.model, bundle.pipeline, f"bundle {bundle.path}")

    def encode(self, clip: Clip, cropped: bool = False) -> np.ndarray:
        """The clip, preprocessed and encoded as in training (H x W x C). ``cropped``: its frames
        already are the pipeline's face crops (cut frame by frame from a stream), so only the
        rest of preprocessing (equalisation) is applied."""
        from mesti.modalities import encode
        from mesti.preprocessing import PreprocessConfig, preprocess_clip

        pre = {k: v for k, v in (self.pipeline.preprocess or {}).items() if k != "version"}
        if pre and cropped:
            pre["face"] = "none"
        if pre:
            clip = preprocess_clip(clip, PreprocessConfig(**pre))
        if not self.pipeline.modality or self.pipeline.modality == "precomputed images":
            raise MestiError(self.name, "was trained on precomputed images: give it an image, not a clip")
        return encode(clip, self.pipeline.modality, **self.pipeline.modality_options)

    @torch.no_grad()
    def classify(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Class probabilities of an encoded image, and the gradient-attention map if any."""
        c, h, w = self.pipeline.input_size
        x = fit_input(torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None], (h, w), c)
        mean = torch.tensor(self.pipeline.normalize["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(self.pipeline.normalize["std"]).view(1, -1, 1, 1)
        x = (x - mean) / std
        probs = self.model(x).float().softmax(dim=1)[0].numpy()
        attention = None
        ga = getattr(self.model, "ga", None)
        if ga is not None and hasattr(ga, "attention_map"):
            attention = ga.attention_map(x)[0, 0].numpy()
        return probs, attention

    def predict(self, clip: Clip) -> Prediction:
        image = self.encode(clip)
        probs, attention = self.classify(image)
        return _prediction(self.classes, probs, image, attention, self.name)


class FoldEnsemble:
    """The fold models of one run: the clip is encoded once, each model classifies it, and
    their probabilities (and attention maps) are averaged."""

    def __init__(self, members: list[Predictor], name: str) -> None:
        first = members[0].pipeline
        for m in members[1:]:
            if not m.pipeline.same_inputs(first):
                raise MestiError(m.name, "encodes clips differently from the other fold models of its run")
        self.members = members
        self.pipeline = first
        self.classes = list(first.classes)
        self.name = name

    @classmethod
    def from_run(cls, run_dir: str | Path) -> FoldEnsemble:
        run_dir = Path(run_dir)
        found = sorted((run_dir / "checkpoints").glob("*.pt")) or sorted(run_dir.glob("*.pt"))
        if not found:
            raise MestiError(run_dir, "no checkpoint (*.pt) here; train with --save-checkpoints or `mesti train`")
        members = [Predictor.from_checkpoint(p) for p in found]
        return cls(members, f"fold ensemble: mean of {len(members)} fold models of {run_dir}")

    def encode(self, clip: Clip, cropped: bool = False) -> np.ndarray:
        """The clip, preprocessed and encoded once for every fold model (they share the pipeline)."""
        return self.members[0].encode(clip, cropped)

    def classify(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The mean of the fold models' probabilities (and attention maps) for an encoded image."""
        outputs = [m.classify(image) for m in self.members]
        maps = [a for _, a in outputs if a is not None]
        return np.mean([p for p, _ in outputs], axis=0), (np.mean(maps, axis=0) if maps else None)

    def predict(self, clip: Clip) -> Prediction:
        image = self.encode(clip)
        probs, attention = self.classify(image)
        return _prediction(self.classes, probs, image, attention, self.name)


def _prediction(classes: list[str], probs: np.ndarray, image: np.ndarray, attention: np.ndarray | None,
                name: str) -> Prediction:
    best = int(np.argmax(probs))
    return Prediction(classes[best], dict(zip(classes, map(float, probs), strict=True)), image, attention, name)


def load_model(path: str | Path) -> Predictor | FoldEnsemble:
    """A bundle folder, a fold checkpoint ``.pt``, or a run directory (a fold ensemble)."""
    path = Path(path)
    if path.is_dir():
        if is_bundle(path) or (path / "pipeline.json").is_file():  # a bundle, or what is left of one
            return Predictor.from_bundle(path)
        return FoldEnsemble.from_run(path)
    if not path.exists():
        raise MestiError(path, "no such bundle, checkpoint or run directory")
    return Predictor.from_checkpoint(path)
