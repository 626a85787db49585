"""Predicting a clip with any trained artefact, through the pipeline it was trained on.

:func:`load_model` accepts the three things mesti trains:

- a bundle folder (``mesti train``): one network trained on every subject;
- a fold checkpoint ``X.pt`` (``--save-checkpoints``), with ``X.json`` (how to rebuild the
  network) and ``X.pipeline.json`` (the :class:`~mesti.pipeline.Pipeline`);
- a run directory with saved checkpoints: a **fold ensemble**, the mean of the fold
  models' class probabilities (each fold model normalises with its own training statistics).
  A run that is unfinished or lacks a fold's checkpoint is refused, naming what is missing:
  the mean of the folds that are left is another model than the run's. ``allow_partial``
  takes it anyway, and the ensemble's name says it is incomplete.

Every output names which of these produced it (``Prediction.model``). An image or frames
with NaN or infinite values are refused, and so is a network that returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mesti.bundle.format import is_bundle, read_bundle
from mesti.pipeline import Pipeline, read_pipeline
from mesti.clips.clip import Clip
from mesti.errors import MestiError


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
        if not pipe.is_file() and is_bundle(path.parent):
            raise MestiError(path, f"the weights of a bundle, which are read with the rest of it: give the bundle "
                                   f"folder {path.parent}")
        if not pipe.is_file():
            raise MestiError(path, f"no pipeline file beside it ({pipe.name}); it was not saved by a mesti run")
        pipeline = read_pipeline(pipe)
        pipeline.check_model(read_config(path), path)
        fold = f" {pipeline.fold}" if pipeline.fold else ""
        return cls(load_checkpoint(path), pipeline, f"fold checkpoint{fold} ({path})")

    @classmethod
    def from_bundle(cls, folder: str | Path) -> Predictor:
        bundle = read_bundle(folder)
        return cls(bundle.model, bundle.pipeline, f"bundle {bundle.path}")

    def encode(self, clip: Clip, cropped: bool = False) -> np.ndarray:
        """The clip, preprocessed and encoded as in training (H x W x C). ``cropped``: its frames
        already are the pipeline's face crops (cut frame by frame from a stream)."""
        return self.pipeline.image(clip, cropped)

    @torch.no_grad()
    def classify(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Class probabilities of an encoded image, and the gradient-attention map if any."""
        x = self.pipeline.network_input(image, self.name)
        probs = self.model(x).float().softmax(dim=1)[0].numpy()
        if not np.isfinite(probs).all():
            raise MestiError(self.name, "returned NaN or infinite class probabilities for this image; the model or "
                                        "its pipeline is damaged")
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

    def __init__(self, members: list[Predictor], name: str, incomplete: str = "") -> None:
        first = members[0].pipeline
        for m in members[1:]:
            if not m.pipeline.same_inputs(first):
                raise MestiError(m.name, "encodes clips differently from the other fold models of its run")
        self.members = members
        self.pipeline = first
        self.classes = list(first.classes)
        self.name = name
        self.incomplete = incomplete  # what the run lacks, when taken anyway (allow_partial)

    @classmethod
    def from_run(cls, run_dir: str | Path, allow_partial: bool = False) -> FoldEnsemble:
        """The fold models of a finished run, every fold's; a folder of checkpoints that is not
        a run is taken as the user's choice of models."""
        run_dir = Path(run_dir)
        found = sorted((run_dir / "checkpoints").glob("*.pt")) or sorted(run_dir.glob("*.pt"))
        seeds = sorted(p.name for p in run_dir.glob("seed-*") if p.is_dir())
        if not found and seeds:
            raise MestiError(run_dir, f"a run over {len(seeds)} seed(s): give one seed's run, e.g. {run_dir / seeds[0]}")
        if not found:
            raise MestiError(run_dir, "no checkpoint (*.pt) here; train with --save-checkpoints or `mesti train`")
        incomplete = _incomplete(run_dir, found)
        if incomplete and not allow_partial:
            raise MestiError(run_dir, f"{incomplete}; the mean of the fold models that are left is not the run's "
                                      "model: complete the run (re-run its command with --save-checkpoints), or "
                                      "pass --allow-partial to use them anyway")
        members = [Predictor.from_checkpoint(p) for p in found]
        saved = run_dir / "pipeline.json"  # the run's own pipeline (runs since pipeline version 1)
        if saved.is_file() and not read_pipeline(saved, trained=False).same_inputs(members[0].pipeline):
            raise MestiError(saved, "the run's pipeline differs from its fold models'; the run folder was changed")
        name = f"fold ensemble: mean of {len(members)} fold models of {run_dir}"
        return cls(members, name + (f" (INCOMPLETE: {incomplete})" if incomplete else ""), incomplete)

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


def _incomplete(run_dir: Path, found: list[Path]) -> str:
    """What ``run_dir`` lacks when it is a run that is unfinished or misses a fold's checkpoint;
    ``""`` when it is whole or is no run (no config.yaml)."""
    from mesti.utils.yamlfile import read_yaml

    if not (run_dir / "config.yaml").is_file():
        return []
    config = read_yaml(run_dir / "config.yaml") or {}
    protocol = config.get("protocol") if isinstance(config, dict) else None
    n_folds = protocol.get("n_folds") if isinstance(protocol, dict) else None
    done = sorted(p.stem for p in (run_dir / "folds").glob("*.json"))
    have = {p.stem for p in found}
    lost = [f for f in done if f not in have]
    if not (run_dir / "metrics.json").is_file():
        total = f" of {n_folds}" if isinstance(n_folds, int) else ""
        return f"the run is not finished ({len(have)}{total} fold models, no metrics.json)"
    if lost or (isinstance(n_folds, int) and len(have) < n_folds):
        names = f" (no {', '.join(p + '.pt' for p in lost)})" if lost else ""
        return f"holds {len(have)} of its {n_folds} fold models{names}"
    return ""


def _prediction(classes: list[str], probs: np.ndarray, image: np.ndarray, attention: np.ndarray | None,
                name: str) -> Prediction:
    best = int(np.argmax(probs))
    return Prediction(classes[best], dict(zip(classes, map(float, probs), strict=True)), image, attention, name)


def load_model(path: str | Path, allow_partial: bool = False) -> Predictor | FoldEnsemble:
    """A bundle folder, a fold checkpoint ``.pt``, or a run directory (a fold ensemble; with
    ``allow_partial`` an unfinished run, or one missing a fold's checkpoint, too)."""
    path = Path(path)
    if path.is_dir():
        if is_bundle(path) or ((path / "pipeline.json").is_file() and not (path / "config.yaml").is_file()):
            # a bundle, or what is left of one (a run directory holds a pipeline.json too)
            return Predictor.from_bundle(path)
        return FoldEnsemble.from_run(path, allow_partial)
    if not path.exists():
        raise MestiError(path, "no such bundle, checkpoint or run directory")
    return Predictor.from_checkpoint(path)
