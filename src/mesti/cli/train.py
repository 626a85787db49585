"""``mesti train``: one model on every labelled subject, written as a self-contained bundle."""

from __future__ import annotations

import typer

from mesti.cli.common import ConsoleHooks, console, handles_errors, progress
from mesti.cli.spec_options import Request, study_command
from mesti.utils.outputs import prepare_new_dir


def _train(request: Request) -> None:
    """Train one model on every labelled subject (no test set) and write it as a bundle."""
    from mesti.bundle.estimate import open_estimate_run
    from mesti.bundle.train import train_bundle
    from mesti.studies.inputs import load_samples

    # The study spec of `mesti loso` with these options: one training on every subject, so its
    # protocol is never split; the engine is the sequential one (a single "fold").
    spec, run = request.cell.study, request.run
    prepare_new_dir(run.out, "bundle", overwrite=run.overwrite)
    if run.estimate is not None:
        open_estimate_run(run.estimate)  # a wrong --estimate fails now; its settings are compared once the data is read
    spec.check()
    cfg = spec.train_config(spec.seeds[0])
    with progress() as bar:
        hooks = ConsoleHooks(bar)
        inputs = load_samples(spec, workers=run.workers, hooks=hooks)
        console.print(f"{spec.dataset.name}: {inputs.samples.describe()}; training on all of them")
        hooks.line("epochs", "epochs", cfg.epochs)
        path, _, pipeline = train_bundle(inputs, spec.model, cfg, run.out, model_kwargs=spec.model_kwargs, img_size=spec.img_size,
                                         command=request.command, estimate=run.estimate, hooks=hooks)
    console.print(f"bundle: {path} ({spec.model} on {pipeline.modality}, classes {', '.join(pipeline.classes)})")
    console.print(f"card: {path / 'model.md'}")


train_cmd = study_command("train", _train, "Train one model on every labelled subject (no test set) and write it as "
                          "a bundle for `mesti predict` and `mesti export`. How good it is comes from --estimate, never "
                          "from its own data. The study can come from --config FILE; KEY=VALUE and flags override it.")


def register(app: typer.Typer) -> None:
    app.command("train")(handles_errors(train_cmd))
