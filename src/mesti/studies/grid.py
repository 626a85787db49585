"""A grid of datasets x modalities x models x protocols, each cell one study in its own folder.

Every cell is a :class:`~mesti.studies.spec.StudySpec`, checked (names, options) before
any cell starts. Cells already finished (``metrics.json`` present, same spec) are skipped,
so a grid resumes after a crash; a cell that fails is recorded as failed and the others
run; one summary table (markdown + CSV) ends it, like the paper's Tables I and II. Cells
run on an executor (:mod:`mesti.studies.executors`): here, or as Ray tasks on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesti.errors import MestiError
from mesti.reports.metrics import ORACLE_KEY, read_metrics
from mesti.reports.runconfig import read_run_config
from mesti.studies.executors import Cell, CellFn, ExecutorSpec, Outcome, run_cell, run_cells
from mesti.studies.run import is_finished
from mesti.studies.spec import DatasetSpec, StudySpec
from mesti.utils.atomic import write_json
from mesti.utils.hooks import Hooks
from mesti.utils.outputs import output_scope, prepare_output_dir
from mesti.utils.ranges import SEED
from mesti.utils.schema import check_fields
from mesti.utils.yamlfile import read_yaml


@dataclass
class GridSpec:
    """The parsed grid file. See README ("mesti grid") for the format."""

    datasets: list[dict[str, Any]]
    modalities: list[str]
    models: list[str]
    protocols: list[dict[str, Any]]
    training: dict[str, Any] = field(default_factory=dict)
    size: int | None = None  # face crops: 224; precomputed images keep their own size
    img_size: int | None = None
    face: str = "dlib-hog"
    equalize: str = "frame"
    cache: str | None = None
    model_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modality_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine: str = "auto"  # sequential, stacked, or auto: see mesti.engine.stacked.AUTO_ENGINE
    folds_per_group: int | None = None  # stacked engine only; None: by memory estimate
    seeds: list[int] | None = None  # each seed a full run of every cell; None: training.seed or 0
    executor: str | dict[str, Any] | None = None  # local (default) or {name: ray, address: auto, ...}
    report_oracle: bool = False  # also the leaky per-fold best-test-epoch figure (TrainConfig.report_oracle)

    def __post_init__(self) -> None:
        check_fields(self, "grid")  # report_oracle: "false" (text) would read as true

    @classmethod
    def from_yaml(cls, path: str | Path) -> GridSpec:
        """Parse and check the whole grid: every cell's names and options, before anything runs."""
        path = Path(path)
        data = read_yaml(path)
        if not isinstance(data, dict):
            raise MestiError(path, "a grid file is a YAML mapping (datasets, modalities, models, protocols ...)")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise MestiError(path, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("datasets", "modalities", "models", "protocols"):
            if not data.get(key) or not isinstance(data[key], list):
                raise MestiError(path, f"'{key}' must list at least one entry")
        data["protocols"] = [p if isinstance(p, dict) else {"name": p} for p in data["protocols"]]
        for key in ("training", "model_kwargs", "modality_options"):  # mappings, or a cell fails with a TypeError
            value = data.get(key)
            if value is not None and not isinstance(value, dict):
                raise MestiError(path, f"'{key}' must be a mapping (key: value), got {value!r}")
            inner = [k for k, v in (value or {}).items() if key != "training" and v is not None and not isinstance(v, dict)]
            if inner:
                raise MestiError(path, f"'{key}' maps each name to its options (a mapping); {inner[0]!r} is not")
        for key in ("modalities", "models"):
            bad = [v for v in data[key] if not isinstance(v, str)]
            if bad:
                raise MestiError(path, f"'{key}' lists names; {bad[0]!r} is not one")
        try:
            spec = cls(**data)
            spec.executor_spec()
            cells = spec.studies(Path("."))
        except MestiError as exc:
            raise MestiError(f"{path}: {exc.where}", exc.what) from None
        for label, study, _ in cells:
            try:
                study.check()
            except MestiError as exc:
                raise MestiError(f"{path}: cell {label}", f"{exc.where}: {exc.what}") from None
        return spec

    def executor_spec(self) -> ExecutorSpec:
        return ExecutorSpec.from_config(self.executor)

    def _dataset_specs(self) -> list[DatasetSpec]:
        specs = []
        for i, entry in enumerate(self.datasets):
            d = DatasetSpec.from_entry(entry, f"datasets[{i}]")
            if d.cache is None and self.cache is not None:
                d = DatasetSpec(**{**d.__dict__, "cache": str(Path(self.cache) / (d.label or d.name))})
            specs.append(d)
        tags = [d.tag for d in specs]
        for tag in tags:
            if tags.count(tag) > 1:
                raise MestiError("datasets", f"{tags.count(tag)} entries would share the folder {tag!r} (same name and "
                                 "classes); give each a distinct 'label'")
        return specs

    def _seeds(self) -> tuple[tuple[int, ...], dict[str, Any]]:
        training = dict(self.training)
        if "seed" in training:
            if self.seeds is not None:
                raise MestiError("training.seed", "give either seeds or training.seed, not both")
            return (SEED.check(training.pop("seed"), "training.seed"),), training
        if self.seeds is not None and not isinstance(self.seeds, list):
            raise MestiError("seeds", f"must be a YAML list of integers such as [0, 1, 2], got {self.seeds!r}")
        return (tuple(self.seeds) if self.seeds is not None else (0,)), training

    def studies(self, out: Path) -> list[tuple[str, StudySpec, Path]]:
        """``(label, spec, run_dir)`` for every cell, in grid order."""
        seeds, training = self._seeds()
        if self.report_oracle:
            training = {**training, "report_oracle": True}
        cells = []
        for d in self._dataset_specs():
            for p in self.protocols:
                for modality in self.modalities:
                    for model in self.models:
                        spec = StudySpec(
                            dataset=d, model=model, protocol=dict(p), modality=modality,
                            modality_options=dict(self.modality_options.get(modality) or {}),
                            model_kwargs=dict(self.model_kwargs.get(model) or {}), img_size=self.img_size,
                            size=self.size, face=self.face, equalize=self.equalize, training=training,
                            engine=self.engine, folds_per_group=self.folds_per_group, seeds=seeds)
                        cells.append((f"{d.tag} {protocol_tag(p)} {modality} {model}", spec,
                                      cell_dir(out, d, p, modality, model)))
        return cells


def cell_dir(out: Path, dataset: DatasetSpec | dict[str, Any], protocol: dict[str, Any], modality: str, model: str) -> Path:
    """A cell's run folder: ``OUT/<dataset tag>/<protocol tag>/<modality>/<model>``; ``dataset``
    a spec or its grid entry."""
    d = dataset if isinstance(dataset, DatasetSpec) else DatasetSpec.from_entry(dataset)
    return out / d.tag / protocol_tag(protocol) / modality / model


def protocol_tag(protocol: dict[str, Any]) -> str:
    """``kfold-k4-seed0``: the protocol's name and options, for folder names and chart panels."""
    extra = "-".join(f"{k}{v}" for k, v in sorted(protocol.items()) if k != "name")
    return protocol["name"] + (f"-{extra}" if extra else "")


def _finished_as(run_dir: Path, spec: StudySpec) -> bool:
    """Finished, and by this very spec (a changed cell is run again, where its config is compared)."""
    if not is_finished(run_dir):
        return False
    try:
        config = read_run_config(run_dir / "config.yaml")
        read_metrics(run_dir / "metrics.json")  # damaged figures: run the cell again (its folds are reused)
    except (OSError, MestiError):
        return False
    return bool(config.get("study") == spec.to_dict())


def _refuse_changed(cells: list[Cell]) -> None:
    """Before any cell runs: a cell whose folder holds a run of other settings (the grid file
    changed since) is named with what differs; a grid has no --overwrite, and the cells
    before it must not run first."""
    for cell in cells:
        path = cell.run_dir / "config.yaml"
        if not path.is_file():
            continue
        try:
            old = read_run_config(path).get("study")
        except (OSError, MestiError):
            continue  # not readable as ours: the cell's own run says what is wrong
        mine = cell.spec.to_dict()
        if isinstance(old, dict) and old != mine:
            keys = sorted(k for k in set(old) | set(mine) if old.get(k) != mine.get(k))
            raise MestiError(cell.run_dir, f"cell {cell.label} holds a run of other settings (differs in: "
                                           f"{', '.join(keys)}): the grid file changed since it ran; remove this "
                                           "folder to run the cell with the new settings, or choose another --out")


@output_scope()  # the grid folder is locked until it ends
def run_grid(
    spec: GridSpec,
    out: str | Path,
    *,
    command: str = "",
    executor: ExecutorSpec | None = None,
    hooks: Hooks | None = None,
    cell_fn: CellFn = run_cell,
) -> list[dict[str, Any]]:
    """Run every unfinished cell, then write ``summary.md`` / ``summary.csv`` / ``summary.json``.

    Returns one row per cell; a failed cell's row has ``status: failed`` and its ``error``.
    """
    from mesti.reports.figures import bar_chart_png
    from mesti.reports.report import write_summary

    for i, d in enumerate(spec._dataset_specs()):  # a foreign cache is refused now, naming the grid's key
        if d.cache is not None:
            key = f"datasets[{i}].cache" if spec.datasets[i].get("cache") is not None else "cache"
            prepare_output_dir(d.cache, "cache", option=f"{key} (in the grid file)", lock=False)
    out = prepare_output_dir(out, "grid")
    cells = [Cell(label, study, run_dir) for label, study, run_dir in spec.studies(out)]
    todo = [c for c in cells if not _finished_as(c.run_dir, c.spec)]
    _refuse_changed(todo)
    outcomes = {c.label: o for c, o in zip(todo, run_cells(todo, executor or spec.executor_spec(), command=command,
                                                             cell_fn=cell_fn, hooks=hooks), strict=True)}
    rows = [_row(c, outcomes.get(c.label), out) for c in cells]
    ok = [r for r in rows if r["status"] == "ok"]
    pictures = {}
    if ok:  # panel headings take the protocol's short name; summary.md carries the full description
        short = [{**r, "protocol": r["protocol_name"]} for r in ok]
        bars = bar_chart_png(short, out / "summary.png", title="UF1 and UAR per modality and model (pooled predictions)")
        pictures["UF1 and UAR"] = bars.name
    write_summary(rows, out, pictures=pictures)
    write_json(out / "summary.json", rows)
    return rows


def _row(cell: Cell, outcome: Outcome | None, out: Path) -> dict[str, Any]:
    spec = cell.spec
    base = {"dataset": spec.dataset.tag, "protocol": protocol_tag(spec.protocol), "protocol_name": protocol_tag(spec.protocol),
            "modality": spec.modality, "model": spec.model}
    if outcome is not None and outcome.error is not None:
        return {**base, "accuracy": None, "uf1": None, "uar": None, "n": None, "uf1_std": None, "uar_std": None,
                "run_dir": str(cell.run_dir.relative_to(out)), "status": "failed", "error": outcome.error}
    metrics = read_metrics(cell.run_dir / "metrics.json")
    fold = metrics.get("per_fold", {})
    if "seeds" in metrics:  # spread over seeds
        spread = (metrics["uf1_std"], metrics["uar_std"])
    elif spec.protocol["name"] == "holdout":  # spread over repeated splits; a LOSO's per-subject spread is another quantity
        spread = (fold.get("fold_std_uf1"), fold.get("fold_std_uar"))
    else:
        spread = (None, None)
    name = spec.dataset.label or spec.dataset.name
    oracle = metrics.get(ORACLE_KEY)
    leaky = {f"{ORACLE_KEY}_{k}": oracle[k] for k in ("accuracy", "uf1", "uar")} if oracle else {}
    return {**base, "dataset": f"{name} ({len(metrics['classes'])} classes)", "protocol": metrics["protocol"],
            "accuracy": metrics["accuracy"], "uf1": metrics["uf1"], "uar": metrics["uar"], "n": metrics["n"],
            "uf1_std": spread[0], "uar_std": spread[1], "run_dir": str(cell.run_dir.relative_to(out)),
            "status": "ok", "error": None, **leaky}
