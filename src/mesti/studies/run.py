"""One experiment = samples x model x protocol x training config, in its own run directory.

Layout of ``RUN_DIR``::

    config.yaml          resolved configuration (written first; a resume must match it)
    folds/<fold>.json    one finished fold: test predictions, curves, seed (atomic)
    checkpoints/         per-fold model weights (with --save-checkpoints)
    predictions.csv      every test prediction with class probabilities
    metrics.json         pooled accuracy / UF1 / UAR, per class, per dataset, per fold (and,
                         with report_oracle, the leaky ``oracle_leaky`` figure beside them)
    confusion.png, curves.png, report.md

``metrics.json`` is written last: a run that has one is finished. Re-running the same
command skips finished folds and ends with the same metrics as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from mesti._version import __version__
from mesti.errors import MestiError
from mesti.protocols.splits import Fold, Protocol, assert_samples_disjoint, assert_subject_disjoint, subject_keys
from mesti.reports.metrics import ORACLE_KEY
from mesti.reports.runconfig import CONFIG_VERSION, VERSION_KEY, read_run_config, run_config_text
from mesti.engine.config import TrainConfig
from mesti.engine.sequential import run_sequential
from mesti.engine.folds import FoldResult, resolve_device
from mesti.studies.oracle import oracle_metrics
from mesti.engine.samples import Inputs, SampleSet
from mesti.engine.stacked import StackedOptions, plan_schedule, resolve_engine, run_stacked
from mesti.utils.atomic import write_json, write_text
from mesti.utils.hooks import Hooks
from mesti.utils.outputs import output_scope, prepare_output_dir



@dataclass(frozen=True)
class Experiment:
    """One seed's run as :func:`run_experiment` takes it (:meth:`StudySpec.experiment` makes
    one from a study): the network and its options, the protocol, the training config, the
    engine (``sequential``, ``stacked`` or ``auto``; ``stacked`` sets the stacked group) and
    the study spec it came from, recorded in ``config.yaml``."""

    model: str
    protocol: Protocol
    training: TrainConfig
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    img_size: int | None = None
    engine: str = "auto"
    stacked: StackedOptions | None = None
    save_checkpoints: bool = False
    study: dict[str, Any] | None = None  # the study spec it came from, as config.yaml records it


def is_finished(run_dir: str | Path) -> bool:
    """A run is finished when its metrics file exists (it is always written last)."""
    return (Path(run_dir) / "metrics.json").is_file()


def _check_config(run_dir: Path, config: dict[str, Any], overwrite: bool) -> None:
    prepare_output_dir(run_dir, "run", overwrite=overwrite)
    path = run_dir / "config.yaml"
    if path.is_file() and not overwrite:
        old = read_run_config(path)
        mine = {k: v for k, v in {VERSION_KEY: CONFIG_VERSION, **config}.items() if k != "command"}
        theirs = {k: v for k, v in old.items() if k != "command"}
        if mine != theirs:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise MestiError(run_dir, f"holds a run with another configuration (differs in: {', '.join(diff)}); choose another --out or pass --overwrite")
    (run_dir / "folds").mkdir(parents=True, exist_ok=True)  # before config.yaml: together they mark a run
    write_text(path, run_config_text(config))


def write_study_config(out: Path, study: dict[str, Any], command: str, overwrite: bool) -> None:
    """The config.yaml of a study over seeds (its spec; each seed's run has its own)."""
    _check_config(out, {"mesti_version": __version__, "study": study, "command": command}, overwrite)


def fold_data_key(samples: SampleSet, fold: Fold) -> str:
    """A digest of what a fold trains and tests on: each sample's identity and label, per side.

    A finished fold is reused only under the same key, so a manifest whose labels (or clips)
    changed since the fold was trained gets it trained again.
    """
    keys, names = samples.keys, samples.class_names
    sides = {side: [[keys[i], names[int(samples.labels[i])]] for i in idx]
             for side, idx in (("train", fold.train), ("test", fold.test))}
    return hashlib.sha256(json.dumps(sides, sort_keys=True).encode()).hexdigest()


def _load_fold(path: Path, samples: SampleSet, fold: Fold) -> FoldResult | None:
    """A finished fold file that matches this fold's samples and labels, else None (rerun it)."""
    try:
        data = json.loads(path.read_text())
        result = FoldResult(**{k: data[k] for k in FoldResult.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if data.get("data_key") != fold_data_key(samples, fold) or result.test_index != [int(i) for i in fold.test]:
        return None
    return result


@output_scope()  # the run folder is locked until it ends
def run_experiment(
    inputs: Inputs | SampleSet,
    experiment: Experiment,
    run_dir: str | Path,
    *,
    command: str = "",
    overwrite: bool = False,
    hooks: Hooks | None = None,
    only_folds: Collection[str] | None = None,
) -> dict[str, Any]:
    """Train and test every fold of the experiment's protocol (resuming), then write metrics
    and the report. ``inputs``: the samples with the record of what produced them (written
    into ``config.yaml``), or bare samples.

    ``only_folds``: train and record just these folds and return ``{}``: a group of folds of
    one run, as a Ray task runs it; the run is finished by a call without it once every fold
    is recorded. Empty: only the run's config and marks (the driver, before its tasks start).

    ``experiment.engine``: ``sequential`` (:func:`~mesti.engine.sequential.run_sequential`, one
    fold after another), ``stacked`` (:mod:`mesti.engine.stacked`, many folds at once,
    ``experiment.stacked`` sets its group size) or ``auto`` (sequential for now, CUDA
    included: see :data:`~mesti.engine.stacked.AUTO_ENGINE`). A stacked run records its engine
    and batch schedule in ``config.yaml``, so a resume keeps the engine.
    """
    from mesti.models import create_model
    from mesti.pipeline import recorded_inputs, resolve_input, resolve_pipeline, write_pipeline

    samples, record = (inputs.samples, inputs.record) if isinstance(inputs, Inputs) else (inputs, None)
    model_name, protocol, cfg, save_checkpoints = (experiment.model, experiment.protocol, experiment.training,
                                                   experiment.save_checkpoints)
    model_kwargs, img_size = experiment.model_kwargs, experiment.img_size
    run_dir = Path(run_dir)
    pipeline = resolve_pipeline(model_name, model_kwargs=model_kwargs, img_size=img_size,
                                classes=samples.class_names,
                                **recorded_inputs(record.to_dict() if record is not None else None))
    built_with = resolve_input(model_name, model_kwargs, img_size)[1]  # the network's other options
    in_chans, h, w = pipeline.fit_size
    size = (h, w)
    model_kwargs = dict(model_kwargs or {})
    folds = protocol.folds(samples.labels.numpy(), samples.subjects, samples.datasets)
    keys = subject_keys(samples.subjects, samples.datasets)
    identities = samples.fingerprints()
    for fold in folds:
        if protocol.guarded:
            assert_subject_disjoint(fold, keys)
        assert_samples_disjoint(fold, identities, samples.keys)
    config = {
        "mesti_version": __version__,
        **(record.to_dict() if record is not None else {}),
        **({"study": experiment.study, "command": command} if experiment.study is not None else {}),
        "model": {"name": model_name, "kwargs": model_kwargs, "input_size": [in_chans, *size]},
        "protocol": {**protocol.config(), "description": protocol.describe(), "n_folds": len(folds)},
        "classes": list(samples.class_names),
        "samples": samples.describe(),
        "training": cfg.to_dict(),
    }
    engine = resolve_engine(experiment.engine, cfg.device)
    if only_folds is not None and engine != "sequential":
        raise MestiError("--fold-tasks", "groups of folds run as separate tasks with --engine sequential only")
    if engine == "stacked":
        config["engine"] = {"name": "stacked", "schedule": plan_schedule(samples, folds, cfg).to_dict()}
    _check_config(run_dir, config, overwrite)
    (run_dir / "folds").mkdir(exist_ok=True)
    write_pipeline(run_dir / "pipeline.json", pipeline)  # each fold checkpoint's adds its normalisation
    if only_folds is not None and not only_folds:
        return {}  # the run's config and marks only (see run_study)

    num_classes = len(samples.class_names)
    fitted = SampleSet(pipeline.fit(samples.images), samples.labels, samples.subjects,
                       samples.datasets, samples.clip_ids, samples.class_names)
    all_keys = samples.keys

    def build() -> torch.nn.Module:
        return create_model(model_name, num_classes=num_classes, in_chans=in_chans, img_size=size, **built_with)

    def finished(fold: Fold) -> FoldResult | None:
        path = run_dir / "folds" / f"{fold.name}.json"
        if save_checkpoints and not (run_dir / "checkpoints" / f"{fold.name}.pt").is_file():
            return None  # its checkpoint was asked for and is missing: train the fold again to save it
        return _load_fold(path, samples, fold) if path.is_file() else None

    def record_fold(fold: Fold, result: FoldResult, model: Callable[[], torch.nn.Module]) -> None:
        if save_checkpoints:
            _save_fold_checkpoint(run_dir, fold, model(), result, pipeline)
        write_json(run_dir / "folds" / f"{fold.name}.json",
                   {**result.__dict__, "test_keys": [all_keys[j] for j in fold.test],
                    "data_key": fold_data_key(samples, fold), "info": fold.info,
                    "device": str(resolve_device(cfg.device)), **({"engine": engine} if engine != "sequential" else {})})

    if engine == "stacked":
        results = run_stacked(fitted, folds, build, cfg, finished=finished, record=record_fold, options=experiment.stacked,
                              input_size=size, in_chans=in_chans, hooks=hooks)
        return finish_run(run_dir, samples, results, config)
    chosen = folds if only_folds is None else [f for f in folds if f.name in only_folds]
    results = run_sequential(fitted, chosen, build, cfg, finished=finished, record=record_fold, input_size=size,
                             in_chans=in_chans, hooks=hooks)
    return finish_run(run_dir, samples, results, config) if only_folds is None else {}


def _save_fold_checkpoint(run_dir: Path, fold: Fold, model: torch.nn.Module, result: FoldResult, pipeline: Any) -> None:
    """Weights + model config (mesti.models.checkpoint) + the pipeline that feeds them."""
    from mesti.models.checkpoint import save_checkpoint
    from mesti.bundle.predictor import pipeline_path
    from mesti.pipeline import write_pipeline

    path = run_dir / "checkpoints" / f"{fold.name}.pt"
    save_checkpoint(model.cpu(), path)
    write_pipeline(pipeline_path(path), pipeline.trained(result.norm, fold.name, fold.info.get("test_subjects")))


def finish_run(run_dir: Path, samples: SampleSet, results: list[FoldResult], config: dict[str, Any]) -> dict[str, Any]:
    """Pool the folds' predictions; write predictions.csv, pictures, report and (last) metrics."""
    import pandas as pd

    from mesti.reports.figures import confusion_matrix_png, training_curves_png
    from mesti.reports.metrics import compute_metrics, per_fold_metrics
    from mesti.reports.report import write_run_report

    names = list(samples.class_names)
    rows = []
    for r in results:
        for idx, probs in zip(r.test_index, r.probs, strict=True):
            row = {
                "dataset": samples.datasets[idx], "subject": samples.subjects[idx], "clip": samples.clip_ids[idx],
                "fold": r.name, "label": names[int(samples.labels[idx])], "prediction": names[int(np.argmax(probs))],
            }
            row.update({f"prob_{c}": float(p) for c, p in zip(names, probs, strict=True)})
            rows.append(row)
    table = pd.DataFrame(rows)
    write_text(run_dir / "predictions.csv", table.to_csv(index=False))
    y_true = [names.index(v) for v in table["label"]]
    y_pred = [names.index(v) for v in table["prediction"]]
    metrics = compute_metrics(y_true, y_pred, names, datasets=list(table["dataset"]) if table["dataset"].nunique() > 1 else None)
    fold_metrics = per_fold_metrics(y_true, y_pred, list(table["fold"]), names)
    metrics["protocol"] = config["protocol"]["description"]
    metrics["per_fold"] = fold_metrics
    oracle = oracle_metrics(results, [int(v) for v in samples.labels], names, metrics["protocol"])
    if oracle is not None:  # reported beside the honest figure, never instead of it
        metrics[ORACLE_KEY] = oracle
    pictures = {
        "confusion matrix": confusion_matrix_png(metrics["confusion_matrix"], names, run_dir / "confusion.png",
                                                 title=f"{config['model']['name']} on {config.get('modality', 'images')}: {metrics['protocol']}").name,
        "training curves": training_curves_png({r.name: r.history for r in results}, run_dir / "curves.png").name,
    }
    write_run_report(run_dir, config, metrics, fold_metrics, pictures)
    write_json(run_dir / "metrics.json", metrics)
    return metrics


def summarize(metrics: dict[str, Any]) -> str:
    """``acc 0.812  UF1 0.774  UAR 0.781`` with the protocol (and the spread over seeds), for terminals."""
    def score(key: str) -> str:
        return f"{metrics[key]:.3f}" + (f" +- {metrics[key + '_std']:.3f}" if "seeds" in metrics else "")

    return f"accuracy {score('accuracy')}  UF1 {score('uf1')}  UAR {score('uar')}  ({metrics['protocol']}, n = {metrics['n']})"
