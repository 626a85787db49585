"""``mesti loso``, ``mesti holdout`` and ``mesti grid``: honest evaluation from the command line."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer
from rich.table import Table

from mesti.cli.common import console, handles_errors, progress
from mesti.errors import MestiError
from mesti.protocols import HoldOut, LeaveOneSubjectOut, Protocol, SubjectKFold
from mesti.training.config import TrainConfig


def _command() -> str:
    return "mesti " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _train_config(epochs: int | None, batch_size: int | None, lr: float | None, seed: int, device: str,
                  val_fraction: float, recipe: str, model: str) -> TrainConfig:
    cfg = TrainConfig(seed=seed, device=device, val_fraction=val_fraction)
    if recipe == "native":
        from mesti.models import get_model_info

        cfg = cfg.with_native_recipe(dict(get_model_info(model).native_recipe or {}), model)
    elif recipe != "paper":
        raise MestiError("--recipe", f"unknown recipe {recipe!r}; choose paper or native")
    data = cfg.to_dict()
    for key, value in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr)):
        if value is not None:
            data[key] = value
    return TrainConfig.from_dict(data)


def _run(protocol: Protocol, dataset: str, root: Path, sheet: Path | None, manifest: Path | None, classes: int | None,
         modality: str | None, model: str, epochs: int | None, batch_size: int | None, lr: float | None,
         img_size: int | None, size: int, seed: int, out: Path, cache: Path | None, face: str, equalize: str,
         device: str, val_fraction: float, recipe: str, save_checkpoints: bool, overwrite: bool, workers: int | None,
         engine: str = "auto", folds_per_group: int | None = None) -> None:
    from mesti.training.experiment import run_experiment, summarize
    from mesti.training.inputs import load_samples
    from mesti.training.stacked import StackedOptions, resolve_engine

    resolve_engine(engine, device)  # a bad --engine fails before any data is prepared
    stacked = StackedOptions(folds_per_group=folds_per_group)

    cfg = _train_config(epochs, batch_size, lr, seed, device, val_fraction, recipe, model)
    with progress() as bar:
        samples, meta = load_samples(dataset, root, modality=modality, classes=classes, sheet=sheet, manifest=manifest,
                                     size=size, face=face, equalize=equalize, cache=cache, workers=workers, progress=bar)
        console.print(f"{dataset}: {samples.describe()}")
        folds_task = bar.add_task("folds", total=None)
        epoch_task = bar.add_task("epochs", total=cfg.epochs)

        def on_fold(name: str, i: int, n: int) -> None:
            bar.update(folds_task, total=n, completed=i, description=f"fold {name}")
            bar.reset(epoch_task, total=cfg.epochs)

        def on_epoch(epoch: int, total: int, stats: dict[str, float]) -> None:
            bar.update(epoch_task, completed=epoch, total=total,
                       description=f"epoch {epoch}/{total} loss {stats['train_loss']:.3f}")

        metrics = run_experiment(samples, model, protocol, cfg, out, img_size=img_size, meta={**meta, "command": _command()},
                                 save_checkpoints=save_checkpoints, overwrite=overwrite,
                                 on_fold_start=on_fold, on_epoch=on_epoch, engine=engine, stacked=stacked)
        bar.update(folds_task, completed=bar.tasks[folds_task].total)
    console.print(f"{model} on {meta['modality']}: {summarize(metrics)}")
    console.print(f"report: {out / 'report.md'}")


# Options shared by loso and holdout (Typer needs them spelled out per command).
_DATASET = typer.Option(..., "--dataset", "-d", help="casme2, samm, smic, composite, folder, images, ...")
_ROOT = typer.Option(..., "--root", help="The dataset folder as distributed (or a synthetic dataset).")
_SHEET = typer.Option(None, "--sheet", help="The coding sheet, when not inside --root.")
_MANIFEST = typer.Option(None, "--manifest", help="CSV manifest for --dataset folder/images.")
_CLASSES = typer.Option(None, "--classes", help="3 (negative/positive/surprise) or 5 (default: the dataset's own).")
_MODALITY = typer.Option(None, "--modality", "-m", help="Input modality (not needed for precomputed images).")
_MODEL = typer.Option("meganet", "--model", help="A name from `mesti models`.")
_EPOCHS = typer.Option(None, "--epochs", help="Training epochs (default 50, the paper's).")
_BATCH = typer.Option(None, "--batch-size", help="Batch size (default 32).")
_LR = typer.Option(None, "--lr", help="Adam learning rate (default 1e-3).")
_IMG = typer.Option(None, "--img-size", help="Network input size (default: the model's own, 224 for MEGANet).")
_SIZE = typer.Option(224, "--size", help="Face crop size of the prepared images.")
_SEED = typer.Option(0, "--seed")
_OUT = typer.Option(..., "--out", "-o", help="Run directory (resumes when it exists).")
_CACHE = typer.Option(None, "--cache", help="Modality cache (default $MESTI_CACHE or ~/.cache/mesti).")
_FACE = typer.Option("dlib-hog", "--face", help="dlib-hog, haar, or none (frames are already face crops).")
_EQ = typer.Option("frame", "--equalize", help="Histogram equalisation: frame (paper), clip, off.")
_DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1 ...")
_VAL = typer.Option(0.0, "--val-fraction", help="Early stopping on this fraction of the TRAINING subjects (0: fixed schedule).")
_RECIPE = typer.Option("paper", "--recipe", help="paper (docs/method.md, Training) or native (the network's own paper).")
_CKPT = typer.Option(False, "--save-checkpoints", help="Keep each fold's weights for `mesti predict`.")
_OVER = typer.Option(False, "--overwrite", help="Start again even if --out holds a run.")
_WORKERS = typer.Option(None, "--workers", help="Processes for preparing the modality.")
_ENGINE = typer.Option("auto", "--engine", help="sequential (one fold after another), stacked (many folds at once, "
                       "torch.func + vmap), or auto: stacked on CUDA, sequential on the CPU.")
_GROUP = typer.Option(None, "--folds-per-group", help="Stacked engine: folds trained together (default: as many as "
                      "half the free memory holds, by estimate).")


def loso_cmd(dataset: str = _DATASET, root: Path = _ROOT, sheet: Path | None = _SHEET, manifest: Path | None = _MANIFEST,
             classes: int | None = _CLASSES, modality: str | None = _MODALITY, model: str = _MODEL, epochs: int | None = _EPOCHS,
             batch_size: int | None = _BATCH, lr: float | None = _LR, img_size: int | None = _IMG, size: int = _SIZE,
             seed: int = _SEED, out: Path = _OUT, cache: Path | None = _CACHE, face: str = _FACE, equalize: str = _EQ,
             device: str = _DEVICE, val_fraction: float = _VAL, recipe: str = _RECIPE, save_checkpoints: bool = _CKPT,
             overwrite: bool = _OVER, workers: int | None = _WORKERS,
             folds: int | None = typer.Option(None, "--folds", help="Subject-wise k-fold instead of one fold per subject."),
             engine: str = _ENGINE, folds_per_group: int | None = _GROUP) -> None:
    """Leave-one-subject-out: train on all other subjects, test on one, pool every fold's predictions."""
    protocol: Protocol = LeaveOneSubjectOut() if folds is None else SubjectKFold(k=folds, seed=seed)
    _run(protocol, dataset, root, sheet, manifest, classes, modality, model, epochs, batch_size, lr, img_size, size, seed,
         out, cache, face, equalize, device, val_fraction, recipe, save_checkpoints, overwrite, workers, engine, folds_per_group)


def holdout_cmd(dataset: str = _DATASET, root: Path = _ROOT, sheet: Path | None = _SHEET, manifest: Path | None = _MANIFEST,
                classes: int | None = _CLASSES, modality: str | None = _MODALITY, model: str = _MODEL, epochs: int | None = _EPOCHS,
                batch_size: int | None = _BATCH, lr: float | None = _LR, img_size: int | None = _IMG, size: int = _SIZE,
                seed: int = _SEED, out: Path = _OUT, cache: Path | None = _CACHE, face: str = _FACE, equalize: str = _EQ,
                device: str = _DEVICE, val_fraction: float = _VAL, recipe: str = _RECIPE, save_checkpoints: bool = _CKPT,
                overwrite: bool = _OVER, workers: int | None = _WORKERS,
                test_fraction: float = typer.Option(0.1, "--test-fraction"),
                repeats: int = typer.Option(1, "--repeats", help="Seeded repeated splits: mean and spread are reported."),
                by_sample: bool = typer.Option(False, "--by-sample", help="Split by sample as the paper's Table I (subjects on both sides; reported as such)."),
                engine: str = _ENGINE, folds_per_group: int | None = _GROUP) -> None:
    """Stratified hold-out split (90/10 by default), repeated with seeds."""
    protocol = HoldOut(test_fraction=test_fraction, repeats=repeats, seed=seed, by_subject=not by_sample)
    _run(protocol, dataset, root, sheet, manifest, classes, modality, model, epochs, batch_size, lr, img_size, size, seed,
         out, cache, face, equalize, device, val_fraction, recipe, save_checkpoints, overwrite, workers, engine, folds_per_group)


def grid_cmd(config: Path = typer.Argument(..., help="Grid YAML: datasets, modalities, models, protocols, training."),
             out: Path = typer.Option(..., "--out", "-o")) -> None:
    """Run a grid of datasets x modalities x models x protocols; finished cells are skipped."""
    from mesti.training.grid import GridSpec, run_grid

    spec = GridSpec.from_yaml(config)
    with progress() as bar:
        task = bar.add_task("grid", total=None)

        def on_cell(label: str, i: int, n: int, finished: bool) -> None:
            bar.update(task, total=n, completed=i, description=("skip " if finished else "") + label)

        rows = run_grid(spec, out, command=_command(), on_cell=on_cell)
        bar.update(task, completed=len(rows))
    print_summary(rows)
    console.print(f"summary: {out / 'summary.md'}")


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
