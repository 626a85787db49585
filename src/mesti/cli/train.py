"""``mesti train``: one model on every labelled subject, written as a self-contained bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from mesti.cli.common import ConsoleHooks, console, handles_errors, progress
from mesti.cli.study import (_BATCH, _CACHE, _CLASSES, _DATASET, _DEVICE, _EPOCHS, _EQ, _FACE, _IMG, _LR, _MANIFEST,
                             _MODALITY, _MODEL, _RECIPE, _ROOT, _SEED, _SHEET, _SIZE, _VAL, _WORKERS, _command, _spec)
from mesti.utils.outputs import prepare_new_dir


def train_cmd(dataset: str = _DATASET, root: Path = _ROOT, sheet: Path | None = _SHEET, manifest: Path | None = _MANIFEST,
              classes: int | None = _CLASSES, modality: str | None = _MODALITY, model: str = _MODEL,
              epochs: int | None = _EPOCHS, batch_size: int | None = _BATCH, lr: float | None = _LR,
              img_size: int | None = _IMG, size: int = _SIZE, seed: int | None = _SEED,
              out: Path = typer.Option(..., "--out", "-o", help="The bundle folder to write (it appears whole or not at all)."),
              cache: Path | None = _CACHE, face: str = _FACE, equalize: str = _EQ, device: str = _DEVICE,
              val_fraction: float = _VAL, recipe: str = _RECIPE, workers: int | None = _WORKERS,
              estimate: Path | None = typer.Option(None, "--estimate", help="A finished `mesti loso` run with the same "
                                                   "settings: its figures go into the bundle as the expected performance."),
              overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing bundle at --out.")) -> None:
    """Train one model on every labelled subject (no test set) and write it as a bundle for
    `mesti predict` and `mesti export`. How good it is comes from --estimate, never from its own data."""
    from mesti.bundle.estimate import open_estimate_run
    from mesti.bundle.train import train_bundle
    from mesti.studies.spec import load_inputs

    prepare_new_dir(out, "bundle", overwrite=overwrite)
    if estimate is not None:
        open_estimate_run(estimate)  # a wrong --estimate fails now; its settings are compared once the data is read
    # The study spec of `mesti loso` with these options: one training on every subject, so its
    # protocol is never split; the engine is the sequential one (a single "fold").
    spec = _spec({"name": "loso"}, {**locals(), "engine": "sequential", "folds_per_group": None, "seeds": None,
                                    "save_checkpoints": False})
    spec.check()
    cfg = spec.train_config(spec.seeds[0])
    with progress() as bar:
        hooks = ConsoleHooks(bar)
        samples, meta = load_inputs(spec, workers=workers, hooks=hooks)
        console.print(f"{dataset}: {samples.describe()}; training on all of them")
        hooks.line("epochs", "epochs", cfg.epochs)
        path, _, pipeline = train_bundle(samples, meta, model, cfg, out, img_size=img_size, command=_command(),
                                         estimate=estimate, hooks=hooks)
    console.print(f"bundle: {path} ({model} on {pipeline.modality}, classes {', '.join(pipeline.classes)})")
    console.print(f"card: {path / 'model.md'}")


def register(app: typer.Typer) -> None:
    app.command("train")(handles_errors(train_cmd))
