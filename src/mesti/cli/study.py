"""``mesti loso``, ``mesti holdout`` and ``mesti grid``: honest evaluation from the command line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from mesti.cli.common import MANIFEST_HELP, ConsoleHooks, console, err_console, handles_errors, progress, show_skipped
from mesti.errors import MestiError
from mesti.reports.metrics import ORACLE_KEY, ORACLE_LABEL
from mesti.studies.spec import DatasetSpec, StudySpec, parse_seeds
from mesti.utils.devices import check_device
from mesti.utils.outputs import prepare_output_dir


def _command() -> str:
    return "mesti " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _study(spec: StudySpec, out: Path, *, overwrite: bool, workers: int | None, executor: str, address: str | None,
           fold_tasks: int | None, strict: bool = False) -> None:
    """Run one study (``loso``/``holdout``) here or on Ray (one task, or groups of folds), with progress."""
    from mesti.studies.executors import Cell, ExecutorSpec, check_executor, run_cells, run_in_fold_tasks
    from mesti.studies.run import summarize
    from mesti.studies.spec import load_inputs, run_study

    check_device(str(spec.training.get("device", "auto")))  # a missing GPU fails before anything is prepared or written
    spec.check()  # bad names and options fail before any data is prepared
    prepare_output_dir(out, "run", option="--out")  # only checks: a file or a foreign folder fails now
    if spec.dataset.cache is not None:
        prepare_output_dir(spec.dataset.cache, "cache", option="--cache", lock=False)  # locked while preparing
    where = ExecutorSpec(name=executor, address=address, fold_tasks=fold_tasks)
    if where.name == "ray" and overwrite:
        raise MestiError("--overwrite", "not with --executor ray (a retried task would start again); "
                         "remove the run folder or choose another --out")
    if fold_tasks is not None and (where.name != "ray" or spec.engine != "sequential"):
        raise MestiError("--fold-tasks", "splits a study into Ray tasks: give it with --executor ray --engine sequential")
    check_executor(where)
    cfg = spec.train_config(spec.seeds[0])
    with progress() as bar:
        if where.name == "ray":
            hooks = ConsoleHooks(bar, {"cells": ("study", 1)})
            cell = Cell(str(out), spec, out)
            if fold_tasks is not None:
                outcome = run_in_fold_tasks(cell, where, command=_command(), hooks=hooks)
            else:
                (outcome,) = run_cells([cell], where, command=_command(), hooks=hooks)
            if outcome.error is not None:
                raise MestiError(out, outcome.error)
            metrics = outcome.metrics or {}
            label = f"{spec.model} on {spec.modality or 'precomputed images'}"
        else:
            hooks = ConsoleHooks(bar)
            samples, meta = load_inputs(spec, workers=workers, hooks=hooks, strict=strict)
            console.print(f"{spec.dataset.name}: {samples.describe()}")
            show_skipped(meta.get("prepare", {}).get("skipped", []))
            hooks.line("folds", "folds")
            hooks.line("epochs", "epochs", cfg.epochs)
            metrics = run_study(spec, out, inputs=(samples, meta), overwrite=overwrite, command=_command(),
                                hooks=hooks)
            hooks.finish("folds")
            label = f"{spec.model} on {meta['modality']}"
    console.print(f"{label}: {summarize(metrics)}")
    leaky = metrics.get(ORACLE_KEY)
    if leaky:  # after the honest line, never instead of it
        console.print(f"{ORACLE_LABEL}: accuracy {leaky['accuracy']:.3f}  UF1 {leaky['uf1']:.3f}  UAR {leaky['uar']:.3f}",
                      markup=False, highlight=False)
    console.print(f"report: {out / ('seeds.md' if len(spec.seeds) > 1 else 'report.md')}")


def _spec(protocol: dict[str, Any], o: dict[str, Any]) -> StudySpec:
    """A command's options (its ``locals()``, by name) as a study spec; unset ones keep the recipe's values."""
    training: dict[str, Any] = {"device": o["device"], "val_fraction": o["val_fraction"], "recipe": o["recipe"]}
    if o.get("report_oracle"):  # mesti train has no test side, so no such option
        training["report_oracle"] = True
    training.update({k: o[k] for k in ("epochs", "batch_size", "lr") if o[k] is not None})
    paths = {k: str(o[k]) if o[k] is not None else None for k in ("sheet", "manifest", "cache")}
    data = DatasetSpec(name=o["dataset"], root=str(o["root"]), classes=o["classes"], **paths)
    return StudySpec(dataset=data, model=o["model"], protocol=protocol, modality=o["modality"], img_size=o["img_size"],
                     size=o["size"], face=o["face"], equalize=o["equalize"], training=training, engine=o["engine"],
                     folds_per_group=o["folds_per_group"], seeds=parse_seeds(o["seeds"], o["seed"]),
                     save_checkpoints=o["save_checkpoints"])


# Options shared by loso and holdout (Typer needs them spelled out per command).
_DATASET = typer.Option(..., "--dataset", "-d", help="casme2, samm, smic, composite, folder, images, ...")
_ROOT = typer.Option(..., "--root", help="The dataset folder as distributed (or a synthetic dataset).")
_SHEET = typer.Option(None, "--sheet", help="The coding sheet, when not inside --root.")
_MANIFEST = typer.Option(None, "--manifest", help=MANIFEST_HELP)
_CLASSES = typer.Option(None, "--classes", help="3 (negative/positive/surprise) or 5 (default: the dataset's own).")
_MODALITY = typer.Option(None, "--modality", "-m", help="Input modality (not needed for precomputed images).")
_MODEL = typer.Option("meganet", "--model", help="A name from `mesti models`.")
_EPOCHS = typer.Option(None, "--epochs", help="Training epochs (default 50, the paper's).")
_BATCH = typer.Option(None, "--batch-size", help="Batch size (default 32).")
_LR = typer.Option(None, "--lr", help="Adam learning rate (default 1e-3).")
_IMG = typer.Option(None, "--img-size", help="Network input size (default: the model's own, 224 for MEGANet).")
_SIZE = typer.Option(None, "--size", help="Face crop size of the prepared images (default 224); precomputed "
                     "images keep their own size unless given.")
_SEED = typer.Option(None, "--seed", help="The seed of the split (when seeded) and the training (default 0).")
_SEEDS = typer.Option(None, "--seeds", help="Several seeds, e.g. 0,1,2: each a full run in OUT/seed-<s>; "
                      "OUT/metrics.json and OUT/seeds.md give the mean and standard deviation.")
_EXECUTOR = typer.Option("local", "--executor", help="local (this process) or ray (a Ray task; needs the extra mesti\\[ray]).")
_FOLD_TASKS = typer.Option(None, "--fold-tasks", help="With --executor ray and --engine sequential: split the "
                           "study into this many Ray tasks, each a group of folds.")
_ADDRESS = typer.Option(None, "--address", help="Ray cluster to use with --executor ray (auto, HOST:PORT); "
                        "default: start Ray on this machine.")
_OUT = typer.Option(..., "--out", "-o", help="Run directory (resumes when it exists).")
_CACHE = typer.Option(None, "--cache", help="Modality cache (default $MESTI_CACHE or ~/.cache/mesti).")
_FACE = typer.Option("dlib-hog", "--face", help="dlib-hog, haar, or none (frames are already face crops).")
_EQ = typer.Option("frame", "--equalize", help="Histogram equalisation: frame (paper), clip, off.")
_DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ...")
_VAL = typer.Option(0.0, "--val-fraction", help="Early stopping on this fraction of the TRAINING subjects (0: fixed schedule).")
_RECIPE = typer.Option("paper", "--recipe", help="paper (docs/method.md, Training) or native (the network's own paper).")
_ORACLE = typer.Option(False, "--report-oracle", help="Also record each fold's test predictions at every epoch and "
                       "report, beside the honest figure and labelled as leaky, what choosing each fold's best epoch "
                       "on its test subject would give (as some published code does; docs/protocols.md).")
_CKPT = typer.Option(False, "--save-checkpoints", help="Keep each fold's weights for `mesti predict`.")
_OVER = typer.Option(False, "--overwrite", help="Start again even if --out holds a run.")
_WORKERS = typer.Option(None, "--workers", help="Processes for preparing the modality.")
_ENGINE = typer.Option("auto", "--engine", help="sequential (one fold after another), stacked (many folds at once, "
                       "torch.func + vmap), or auto: sequential, on CUDA too until the GPU check "
                       "(benchmarks/gpu_check.sh) has measured the stacked engine there.")
_STRICT = typer.Option(False, "--strict", help="A clip that cannot be prepared is an error (exit 2), not a skip.")
_GROUP = typer.Option(None, "--folds-per-group", help="Stacked engine: folds trained together (default: as many as "
                      "half the free memory holds, by estimate).")


def loso_cmd(dataset: str = _DATASET, root: Path = _ROOT, sheet: Path | None = _SHEET, manifest: Path | None = _MANIFEST,
             classes: int | None = _CLASSES, modality: str | None = _MODALITY, model: str = _MODEL, epochs: int | None = _EPOCHS,
             batch_size: int | None = _BATCH, lr: float | None = _LR, img_size: int | None = _IMG, size: int | None = _SIZE,
             seed: int | None = _SEED, seeds: str | None = _SEEDS, out: Path = _OUT, cache: Path | None = _CACHE,
             face: str = _FACE, equalize: str = _EQ, device: str = _DEVICE, val_fraction: float = _VAL,
             recipe: str = _RECIPE, report_oracle: bool = _ORACLE, save_checkpoints: bool = _CKPT, overwrite: bool = _OVER, workers: int | None = _WORKERS,
             folds: int | None = typer.Option(None, "--folds", help="Subject-wise k-fold instead of one fold per subject."),
             engine: str = _ENGINE, folds_per_group: int | None = _GROUP, executor: str = _EXECUTOR,
             address: str | None = _ADDRESS, fold_tasks: int | None = _FOLD_TASKS, strict: bool = _STRICT) -> None:
    """Leave-one-subject-out: train on all other subjects, test on one, pool every fold's predictions."""
    protocol: dict[str, Any] = {"name": "loso"} if folds is None else {"name": "kfold", "k": folds}
    spec = _spec(protocol, locals())
    _study(spec, out, overwrite=overwrite, workers=workers, executor=executor, address=address,
           fold_tasks=fold_tasks, strict=strict)


def holdout_cmd(dataset: str = _DATASET, root: Path = _ROOT, sheet: Path | None = _SHEET, manifest: Path | None = _MANIFEST,
                classes: int | None = _CLASSES, modality: str | None = _MODALITY, model: str = _MODEL, epochs: int | None = _EPOCHS,
                batch_size: int | None = _BATCH, lr: float | None = _LR, img_size: int | None = _IMG, size: int | None = _SIZE,
                seed: int | None = _SEED, seeds: str | None = _SEEDS, out: Path = _OUT, cache: Path | None = _CACHE,
                face: str = _FACE, equalize: str = _EQ, device: str = _DEVICE, val_fraction: float = _VAL,
                recipe: str = _RECIPE, report_oracle: bool = _ORACLE, save_checkpoints: bool = _CKPT, overwrite: bool = _OVER,
                workers: int | None = _WORKERS,
                test_fraction: float = typer.Option(0.1, "--test-fraction"),
                repeats: int = typer.Option(1, "--repeats", help="Seeded repeated splits: mean and spread are reported."),
                by_sample: bool = typer.Option(False, "--by-sample", help="Split by sample as the paper's Table I (subjects on both sides; reported as such)."),
                engine: str = _ENGINE, folds_per_group: int | None = _GROUP, executor: str = _EXECUTOR,
                address: str | None = _ADDRESS, fold_tasks: int | None = _FOLD_TASKS, strict: bool = _STRICT) -> None:
    """Stratified hold-out split (90/10 by default), repeated with seeds."""
    protocol = {"name": "holdout", "test_fraction": test_fraction, "repeats": repeats, "by_subject": not by_sample}
    spec = _spec(protocol, locals())
    _study(spec, out, overwrite=overwrite, workers=workers, executor=executor, address=address,
           fold_tasks=fold_tasks, strict=strict)


def grid_cmd(config: Path = typer.Argument(..., help="Grid YAML: datasets, modalities, models, protocols, training."),
             out: Path = typer.Option(..., "--out", "-o"),
             executor: str | None = typer.Option(None, "--executor", help="local or ray (default: the grid file's "
                                                 "executor, else local)."),
             address: str | None = _ADDRESS) -> None:
    """Run a grid of datasets x modalities x models x protocols; finished cells are skipped."""
    from mesti.studies.executors import ExecutorSpec, check_executor
    from mesti.studies.grid import GridSpec, run_grid

    spec = GridSpec.from_yaml(config)  # every cell is checked here, before anything runs
    prepare_output_dir(out, "grid")  # and --out (locked for this command), before any progress line
    where = spec.executor_spec()
    if executor is not None or address is not None:
        where = ExecutorSpec(**{**where.__dict__, **({"name": executor} if executor else {}),
                                **({"address": address} if address else {})})
    check_executor(where)
    with progress() as bar:
        rows = run_grid(spec, out, command=_command(), executor=where, hooks=ConsoleHooks(bar, {"cells": "grid"}))
    print_summary([r for r in rows if r["status"] == "ok"])
    console.print(f"summary: {out / 'summary.md'}")
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        err_console.print(f"error: cell {r['run_dir']}: {r['error']}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def print_summary(rows: list[dict]) -> None:  # type: ignore[type-arg]
    """One table per (dataset, protocol); the protocol is printed with its numbers."""
    groups: dict[tuple[str, str], list[dict]] = {}  # type: ignore[type-arg]
    for r in rows:
        groups.setdefault((r["dataset"], r["protocol"]), []).append(r)
    for (dataset, protocol), members in groups.items():
        table = Table(title=f"{dataset}: {protocol}", title_justify="left")
        for col in ("modality", "model", "accuracy", "uf1", "uar", "n"):
            table.add_column(col, justify="left" if col in ("modality", "model") else "right")
        for r in members:
            table.add_row(r["modality"], r["model"], *(f"{r[k]:.3f}" for k in ("accuracy", "uf1", "uar")), str(r["n"]))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("loso")(handles_errors(loso_cmd))
    app.command("holdout")(handles_errors(holdout_cmd))
    app.command("grid")(handles_errors(grid_cmd))
