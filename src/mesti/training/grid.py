"""A grid of datasets x modalities x models x protocols, each cell its own run directory.

Cells already finished (``metrics.json`` present) are skipped, so a grid resumes after a
crash; one summary table (markdown + CSV) ends it, like the paper's Tables I and II.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mesti.errors import MestiError
from mesti.protocols import protocol_from_config
from mesti.training.config import TrainConfig
from mesti.training.experiment import is_finished, run_experiment
from mesti.training.inputs import load_samples
from mesti.training.stacked import StackedOptions, resolve_engine
from mesti.utils.atomic import write_json
from mesti.utils.outputs import prepare_output_dir
from mesti.utils.yamlfile import read_yaml


@dataclass
class GridSpec:
    """The parsed grid file. See README ("mesti grid") for the format."""

    datasets: list[dict[str, Any]]
    modalities: list[str]
    models: list[str]
    protocols: list[dict[str, Any]]
    training: dict[str, Any] = field(default_factory=dict)
    size: int = 224
    img_size: int | None = None
    face: str = "dlib-hog"
    equalize: str = "frame"
    cache: str | None = None
    model_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modality_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine: str = "auto"  # sequential, stacked, or auto (stacked on CUDA): see mesti.training.stacked
    folds_per_group: int | None = None  # stacked engine only; None: by memory estimate

    @classmethod
    def from_yaml(cls, path: str | Path) -> GridSpec:
        path = Path(path)
        data = read_yaml(path)
        if not isinstance(data, dict):
            raise MestiError(path, "a grid file is a YAML mapping (datasets, modalities, models, protocols ...)")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise MestiError(path, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("datasets", "modalities", "models", "protocols"):
            if not data.get(key):
                raise MestiError(path, f"'{key}' must list at least one entry")
        data["protocols"] = [p if isinstance(p, dict) else {"name": p} for p in data["protocols"]]
        for d in data["datasets"]:
            if not isinstance(d, dict) or "name" not in d or "root" not in d:
                raise MestiError(path, "each dataset needs at least 'name' and 'root'")
        spec = cls(**data)
        TrainConfig.from_dict(spec.training)  # fail now, not after hours
        StackedOptions(folds_per_group=spec.folds_per_group)
        resolve_engine(spec.engine, str(spec.training.get("device", "auto")))
        for p in spec.protocols:
            protocol_from_config(p)
        return spec


def protocol_tag(protocol: dict[str, Any]) -> str:
    """``kfold-k4-seed0``: the protocol's name and options, for folder names and chart panels."""
    extra = "-".join(f"{k}{v}" for k, v in sorted(protocol.items()) if k != "name")
    return protocol["name"] + (f"-{extra}" if extra else "")


def cell_dir(out: Path, dataset: dict[str, Any], protocol: dict[str, Any], modality: str, model: str) -> Path:
    """``OUT/<dataset>-<classes>c/<protocol>/<modality>/<model>``."""
    tag = f"{dataset['name']}-{dataset['classes']}c" if dataset.get("classes") else dataset["name"]
    return out / tag / protocol_tag(protocol) / modality / model


def run_grid(
    spec: GridSpec,
    out: str | Path,
    *,
    command: str = "",
    on_cell: Callable[[str, int, int, bool], None] | None = None,
    experiment_kwargs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run every unfinished cell, then write ``summary.md`` / ``summary.csv`` in ``out``."""
    from mesti.reports.report import write_summary

    out = prepare_output_dir(out, "grid")
    cells = [(d, p, m, net) for d in spec.datasets for p in spec.protocols for m in spec.modalities for net in spec.models]
    rows: list[dict[str, Any]] = []
    samples_cache: dict[tuple[str, str], Any] = {}
    for i, (d, p, modality, model) in enumerate(cells):
        run_dir = cell_dir(out, d, p, modality, model)
        label = f"{d['name']} {p['name']} {modality} {model}"
        finished = is_finished(run_dir)
        if on_cell is not None:
            on_cell(label, i, len(cells), finished)
        if not finished:
            key = (yaml.safe_dump(d, sort_keys=True), modality)
            if key not in samples_cache:
                samples_cache.clear()  # hold one modality in memory at a time
                samples_cache[key] = load_samples(
                    d["name"], d["root"], modality=modality, classes=d.get("classes"), sheet=d.get("sheet"),
                    manifest=d.get("manifest"), size=spec.size, face=spec.face, equalize=spec.equalize,
                    cache=d.get("cache") or (Path(spec.cache) / d["name"] if spec.cache else None),
                    options=spec.modality_options.get(modality),
                    adapter_kwargs={k: v for k, v in d.items() if k not in {"name", "root", "classes", "sheet", "manifest", "cache"}},
                )
            samples, meta = samples_cache[key]
            cfg = TrainConfig.from_dict(spec.training)
            run_experiment(samples, model, protocol_from_config(p), cfg, run_dir,
                           model_kwargs=spec.model_kwargs.get(model), img_size=spec.img_size,
                           meta={**meta, "command": command}, engine=spec.engine,
                           stacked=StackedOptions(folds_per_group=spec.folds_per_group), **(experiment_kwargs or {}))
        import json

        metrics = json.loads((run_dir / "metrics.json").read_text())
        fold = metrics.get("per_fold", {})
        rows.append({
            "dataset": f"{d['name']} ({len(metrics['classes'])} classes)", "protocol": metrics.get("protocol", p["name"]),
            "protocol_name": protocol_tag(p),
            "modality": modality, "model": model, "accuracy": metrics["accuracy"], "uf1": metrics["uf1"],
            "uar": metrics["uar"], "n": metrics["n"],
            # Spread over repeated hold-out splits; per-subject spread of a LOSO is another quantity.
            "uf1_std": fold.get("fold_std_uf1") if p["name"] == "holdout" else None,
            "uar_std": fold.get("fold_std_uar") if p["name"] == "holdout" else None,
            "run_dir": str(run_dir.relative_to(out)),
        })
    from mesti.reports.figures import bar_chart_png

    # Panel headings take the protocol's short name; summary.md carries the full description.
    short = [{**r, "protocol": r["protocol_name"]} for r in rows]
    bars = bar_chart_png(short, out / "summary.png", title="UF1 and UAR per modality and model (pooled predictions)")
    write_summary(rows, out, pictures={"UF1 and UAR": bars.name})
    write_json(out / "summary.json", rows)
    return rows
