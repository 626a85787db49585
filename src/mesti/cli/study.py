"""``mesti loso``, ``mesti holdout`` and ``mesti grid``: honest evaluation from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mesti.cli.common import ConsoleHooks, command_line, console, err_console, handles_errors, progress, show_skipped
from mesti.cli.spec_options import Request, study_command
from mesti.errors import MestiError
from mesti.reports.metrics import ORACLE_KEY, ORACLE_LABEL
from mesti.utils.devices import check_device
from mesti.utils.outputs import prepare_output_dir


def _study(request: Request) -> None:
    """Run one study (``loso``/``holdout``) here or on Ray (one task, or groups of folds), with progress."""
    from mesti.studies.executors import Cell, check_executor, run_cells, run_in_fold_tasks
    from mesti.studies.inputs import load_samples
    from mesti.studies.run import summarize
    from mesti.studies.spec import run_study

    spec, where, run = request.cell.study, request.cell.executor, request.run
    out = Path(str(run.out))
    check_device(str(spec.training.get("device", "auto")))  # a missing GPU fails before anything is prepared or written
    spec.check()  # bad names and options fail before any data is prepared
    prepare_output_dir(out, "run", option="--out")  # only checks: a file or a foreign folder fails now
    if spec.dataset.cache is not None:
        prepare_output_dir(spec.dataset.cache, "cache", option="--cache", lock=False)  # locked while preparing
    if where.name == "ray" and run.overwrite:
        raise MestiError("--overwrite", "not with --executor ray (a retried task would start again); "
                         "remove the run folder or choose another --out")
    if where.fold_tasks is not None and (where.name != "ray" or spec.engine != "sequential"):
        raise MestiError("--fold-tasks", "splits a study into Ray tasks: give it with --executor ray --engine sequential")
    check_executor(where)
    cfg = spec.train_config(spec.seeds[0])
    with progress() as bar:
        if where.name == "ray":
            hooks = ConsoleHooks(bar, {"cells": ("study", 1)})
            cell = Cell(str(out), spec, out)
            if where.fold_tasks is not None:
                outcome = run_in_fold_tasks(cell, where, command=request.command, hooks=hooks)
            else:
                (outcome,) = run_cells([cell], where, command=request.command, hooks=hooks)
            if outcome.error is not None:
                raise MestiError(out, outcome.error)
            metrics = outcome.metrics or {}
            label = f"{spec.model} on {spec.modality or 'precomputed images'}"
        else:
            hooks = ConsoleHooks(bar)
            inputs = load_samples(spec, workers=run.workers, hooks=hooks, strict=run.strict)
            console.print(f"{spec.dataset.name}: {inputs.samples.describe()}")
            show_skipped(inputs.record.skipped)
            hooks.line("folds", "folds")
            hooks.line("epochs", "epochs", cfg.epochs)
            metrics = run_study(spec, out, inputs, overwrite=run.overwrite, command=request.command, hooks=hooks)
            hooks.finish("folds")
            label = f"{spec.model} on {inputs.record.modality}"
    console.print(f"{label}: {summarize(metrics)}")
    leaky = metrics.get(ORACLE_KEY)
    if leaky:  # after the honest line, never instead of it
        console.print(f"{ORACLE_LABEL}: accuracy {leaky['accuracy']:.3f}  UF1 {leaky['uf1']:.3f}  UAR {leaky['uar']:.3f}",
                      markup=False, highlight=False)
    console.print(f"report: {out / ('seeds.md' if len(spec.seeds) > 1 else 'report.md')}")


loso_cmd = study_command("loso", _study, "Leave-one-subject-out: train on all other subjects, test on one, pool "
                         "every fold's predictions. The study can come from --config FILE (one cell of a grid file); "
                         "KEY=VALUE and flags override it.")
holdout_cmd = study_command("holdout", _study, "Stratified hold-out split (90/10 by default), repeated with seeds. "
                            "The study can come from --config FILE; KEY=VALUE and flags override it.")
_ADDRESS = typer.Option(None, "--address", help="Ray cluster to use with --executor ray (auto, HOST:PORT); "
                        "default: start Ray on this machine.")


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
        rows = run_grid(spec, out, command=command_line(), executor=where, hooks=ConsoleHooks(bar, {"cells": "grid"}))
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
