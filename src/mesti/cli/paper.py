"""``mesti paper list | run | report``: the paper's experiments, one shipped study per table (docs/paper.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from mesti.cli.common import ConsoleHooks, command_line, console, err_console, handles_errors, options_command, progress
from mesti.cli.study import print_summary

paper_app = typer.Typer(help="The paper's tables as shipped studies: list them, run one, compare with the paper "
                             "(docs/paper.md).", no_args_is_help=True)


def list_cmd() -> None:
    """Every shipped study, the dataset roots it needs, and what it notes."""
    from mesti.paper import ROOT_FLAGS, list_studies

    table = Table(title="mesti paper run STUDY ...", title_justify="left")
    for col in ("study", "what", "modalities", "needs"):
        table.add_column(col)
    for s in list_studies():
        what = s.title + (f" ({s.note})" if s.note else "")
        modalities = dict.fromkeys(m for doc in s.documents for m in doc["modalities"])
        table.add_row(s.name, what, ", ".join(modalities), " ".join(ROOT_FLAGS[r] for r in s.roots))
    console.print(table)


@dataclass(frozen=True)
class PaperRunOptions:
    """The options of ``run``, in the order ``--help`` shows them."""

    study: str = typer.Argument(..., help="table1 ... table6, meganet_di, composite, cross (see `mesti paper list`).")
    casme2: Path | None = typer.Option(None, "--casme2", help="CASME II root as distributed (or a synthetic stand-in).")
    samm: Path | None = typer.Option(None, "--samm", help="SAMM root as distributed (or a synthetic stand-in).")
    smic: Path | None = typer.Option(None, "--smic", help="SMIC root holding HS/ (or a synthetic stand-in).")
    out: Path = typer.Option(..., "--out", "-o", help="Runs folder; the study goes to OUT/STUDY/ and resumes there.")
    epochs: int | None = typer.Option(None, "--epochs", help="Reduction: training epochs (the paper: 50).")
    batch_size: int | None = typer.Option(None, "--batch-size", help="Batch size (default 32).")
    img_size: int | None = typer.Option(None, "--img-size", help="Reduction: network input size (the paper: 224).")
    size: int | None = typer.Option(None, "--size", help="Reduction: face crop size of the prepared images (224).")
    repeats: int | None = typer.Option(None, "--repeats", help="Hold-out studies: seeded splits (shipped: 10).")
    models: str | None = typer.Option(None, "--models", help="Reduction: a comma list, a subset of the study's networks.")
    modalities: str | None = typer.Option(None, "--modalities", help="Reduction: a comma list, a subset of its modalities.")
    face: str | None = typer.Option(None, "--face", help="dlib-hog (shipped), haar, or none (frames are already face crops).")
    cache: Path | None = typer.Option(None, "--cache", help="Modality cache (default $MESTI_CACHE or ~/.cache/mesti).")
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda ...")
    recipe: str | None = typer.Option(None, "--recipe", help="Default: the study's own (Table II: each network's own " "recipe, as the paper ran it; the others: the paper's). paper: the paper's " "everywhere; native: every part whose networks have a published recipe.")
    seeds: str | None = typer.Option(None, "--seeds", help="Several seeds, e.g. 0,1,2: each a full run of every " "cell; the report shows mean +- sd beside the paper's single number.")
    report_oracle: bool = typer.Option(False, "--report-oracle", help="Also report, labelled as leaky, what choosing " "each fold's best epoch on its test subject would give (docs/protocols.md).")
    clip_list: Path | None = typer.Option(None, "--clip-list", help="smic, composite, cross: the clip list in the " "MEGC 2019 CSV format (default: the shipped 442 real clips; a synthetic stand-in brings its own).")


def _run(o: PaperRunOptions) -> None:
    """Run one study through the grid engine; re-running the same command skips finished cells."""
    from mesti.paper import Reduction, run_study
    from mesti.studies.spec import parse_seeds

    def names(text: str | None) -> tuple[str, ...]:
        return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()

    reduction = Reduction(epochs=o.epochs, batch_size=o.batch_size, img_size=o.img_size, size=o.size, repeats=o.repeats,
                          face=o.face, cache=str(o.cache) if o.cache else None, device=o.device,
                          models=names(o.models), modalities=names(o.modalities),
                          seeds=parse_seeds(o.seeds, None) if o.seeds else (), report_oracle=o.report_oracle,
                          recipe=o.recipe)
    with progress() as bar:
        rows = run_study(o.study, {"casme2": o.casme2, "samm": o.samm, "smic": o.smic}, o.out, reduction,
                         clip_list=o.clip_list, command=command_line(), hooks=ConsoleHooks(bar, {"cells": o.study}))
    print_summary([r for r in rows if r["status"] == "ok"])
    failed = [r for r in rows if r["status"] != "ok"]
    for r in failed:
        err_console.print(f"error: cell {r['run_dir']}: {r['error']}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)
    console.print(f"summaries: {o.out / o.study}/part*/summary.md; compare with the paper: mesti paper report {o.out}")


run_cmd = options_command(PaperRunOptions, _run)


def report_cmd(runs: Path = typer.Argument(..., help="The --out folder of `mesti paper run`.")) -> None:
    """Write RUNS/paper_report.md: the paper's figure beside ours for every cell, protocols and differences."""
    from mesti.paper.compare import write_paper_report

    path = write_paper_report(runs)
    console.print(f"report: {path} (picture {path.with_suffix('.png').name}, data {path.with_suffix('.csv').name})")


def register(app: typer.Typer) -> None:
    paper_app.command("list")(handles_errors(list_cmd))
    paper_app.command("run")(handles_errors(run_cmd))
    paper_app.command("report")(handles_errors(report_cmd))
    app.add_typer(paper_app, name="paper")
