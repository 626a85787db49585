"""``mesti train``: one model on every labelled subject, shipped as a bundle.

The same trainer as every fold (:func:`~mesti.engine.sequential.train_fold`), given a fold
whose training side holds every sample and whose test side is empty. ``val_fraction``
still carves validation subjects from the training side only. How good the model is comes
from a separate subject-independent run (``estimate``), never from its own training data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mesti._version import __version__
from mesti.bundle.card import model_card
from mesti.bundle.estimate import read_estimate
from mesti.bundle.format import save_bundle
from mesti.pipeline import Pipeline, pipeline_to_dict, recorded_inputs, resolve_input, resolve_pipeline
from mesti.protocols.splits import Fold, subject_keys
from mesti.engine.config import TrainConfig
from mesti.engine.sequential import train_fold
from mesti.engine.folds import FoldResult
from mesti.engine.samples import Inputs, SampleSet
from mesti.utils.hooks import Hooks

ALL_SUBJECTS = "all-subjects"


def final_settings(inputs: Inputs, model_name: str, cfg: TrainConfig, *,
                   model_kwargs: dict[str, Any] | None = None, img_size: int | None = None) -> dict[str, Any]:
    """The settings in the shape of a run's ``config.yaml`` (what ``--estimate`` compares)."""
    samples = inputs.samples
    input_size, _ = resolve_input(model_name, model_kwargs, img_size)
    return {
        **inputs.record.to_dict(),
        "model": {"name": model_name, "kwargs": dict(model_kwargs or {}), "input_size": list(input_size)},
        "classes": list(samples.class_names),
        "samples": samples.describe(),
        "training": cfg.to_dict(),
    }


def train_final(samples: SampleSet, model_name: str, cfg: TrainConfig, *, model_kwargs: dict[str, Any] | None = None,
                img_size: int | None = None,
                hooks: Hooks | None = None) -> tuple[nn.Module, FoldResult]:
    """Train one network on every sample (no test side); returns it with its fold record."""
    from mesti.models import create_model

    pipeline = resolve_pipeline(model_name, model_kwargs=model_kwargs, img_size=img_size)
    in_chans, h, w = pipeline.fit_size
    size = (h, w)
    built_with = resolve_input(model_name, model_kwargs, img_size)[1]  # the network's other options
    everyone = np.arange(len(samples))
    fold = Fold(ALL_SUBJECTS, everyone, everyone[:0],
                {"train_subjects": sorted(set(subject_keys(samples.subjects, samples.datasets)))})
    fitted = SampleSet(pipeline.fit(samples.images), samples.labels, samples.subjects,
                       samples.datasets, samples.clip_ids, samples.class_names)

    def build() -> nn.Module:
        return create_model(model_name, num_classes=len(samples.class_names), in_chans=in_chans, img_size=size,
                            **built_with)

    result, model = train_fold(fitted, fold, build, cfg, input_size=size, in_chans=in_chans, hooks=hooks)
    return model.cpu().eval(), result


def train_bundle(inputs: Inputs, model_name: str, cfg: TrainConfig, out: str | Path, *,
                 model_kwargs: dict[str, Any] | None = None, img_size: int | None = None, command: str = "",
                 estimate: str | Path | None = None,
                 hooks: Hooks | None = None) -> tuple[Path, nn.Module, Pipeline]:
    """Train on everything and write the bundle at ``out``. ``estimate`` (a finished run with
    the same settings) is checked before any training, so a mismatch costs nothing."""
    samples, record = inputs.samples, inputs.record
    settings = final_settings(inputs, model_name, cfg, model_kwargs=model_kwargs, img_size=img_size)
    est = read_estimate(estimate, settings) if estimate is not None else None
    model, result = train_final(samples, model_name, cfg, model_kwargs=model_kwargs, img_size=img_size,
                                hooks=hooks)
    pipeline = resolve_pipeline(model_name, model_kwargs=model_kwargs, img_size=img_size, classes=samples.class_names,
                                **recorded_inputs(record.to_dict())).trained(result.norm)
    counts = torch.bincount(samples.labels, minlength=len(samples.class_names)).tolist()
    provenance = {
        "command": command,
        "mesti_version": __version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "subjects": len(set(subject_keys(samples.subjects, samples.datasets))),
        "clips_per_class": dict(zip(samples.class_names, counts, strict=True)),
        "settings": {k: v for k, v in settings.items() if k not in ("command", "prepare")},
        "fold_seed": result.seed,
        "stopped_epoch": result.stopped_epoch,
        "history": result.history,
        "estimate": est,
    }
    path = save_bundle(out, model, pipeline, provenance, model_card(provenance, pipeline_to_dict(pipeline)))
    return path, model, pipeline
