"""``mesti data``: list the dataset adapters; check a copy of a dataset against its sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mesti.cli.common import (MANIFEST_HELP, ConsoleHooks, console, handles_errors, print_registry, progress,
                              sheet_or_manifest)
from mesti.datasets.check import CheckReport, Finding, check_dataset
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError

data_app = typer.Typer(help="Dataset adapters: list them, check a copy against its sheet.", no_args_is_help=True)

#: Lines of each kind shown without --verbose.
_SHOWN = 20


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``['samm_root=/data/SAMM']`` -> ``{'samm_root': '/data/SAMM'}`` (adapter-specific options)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MestiError("--opt", f"{pair!r} is not KEY=VALUE")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


def list_cmd() -> None:
    """List the dataset adapters (the names --dataset takes)."""
    from mesti.datasets.registry import DATASETS

    print_registry(DATASETS, "dataset adapters", "what it reads")


def check_cmd(
    dataset: str = typer.Option(..., "--dataset", "-d", help="Adapter name (see `mesti data list`)."),
    root: Path = typer.Option(..., "--root", help="The dataset folder as unpacked from its distribution."),
    sheet: Path | None = typer.Option(None, "--sheet", help="The annotation sheet (default: found in --root)."),
    manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    classes: int | None = typer.Option(None, "--classes", help="Class set: 5 or 3 (default: the adapter's)."),
    opt: list[str] = typer.Option([], "--opt", help="Adapter option KEY=VALUE, repeatable (e.g. samm_root=DIR for composite)."),
    decode: bool = typer.Option(True, "--decode/--no-decode", help="Decode every frame (finds corrupt files; slower)."),
    workers: int = typer.Option(4, "--workers", min=1, help="Threads decoding frames."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=f"Show every finding, not the first {_SHOWN} of each kind."),
) -> None:
    """Check a dataset copy against its sheet: missing clips and frames, unreadable frames, extra folders.

    Exit 0 when complete, 1 when data are missing or unreadable, 2 for bad input.
    """
    if not root.is_dir():
        raise MestiError("--root", f"{root}: no such folder")
    kwargs = parse_options(opt)
    sheet = sheet_or_manifest(sheet, manifest)
    sheet = sheet if sheet is not None else kwargs.pop("sheet", None)
    classes = classes if classes is not None else kwargs.pop("classes", None)
    adapter = create_dataset(dataset, root, sheet=sheet, classes=classes, **kwargs)
    with progress() as bar:
        doing = f"decoding {dataset} frames" if decode else f"locating {dataset} frames"
        report = check_dataset(adapter, decode=decode, workers=workers, hooks=ConsoleHooks(bar, {"check": doing}))
    show_report(report, verbose)
    if not report.ok:
        raise typer.Exit(1)


def _lines(title: str, lines: list[str], verbose: bool, style: str) -> None:
    if not lines:
        return
    console.print(f"[{style}]{escape(title)} ({len(lines)}):[/]", markup=True)
    shown = lines if verbose else lines[:_SHOWN]
    for line in shown:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    if len(shown) < len(lines):
        console.print(f"  ... and {len(lines) - len(shown)} more (--verbose shows all)")


def _findings(title: str, findings: list[Finding], verbose: bool) -> None:
    _lines(title, [f"{f.where}: {f.what}" for f in findings], verbose, "bold red")


def show_report(report: CheckReport, verbose: bool = False) -> None:
    """Print the findings, then a summary table and a one-line verdict."""
    _lines("sheet quirks handled", report.issues, verbose, "yellow")
    _findings("missing clips", report.missing_clips, verbose)
    _findings("missing frames", report.missing_frames, verbose)
    _findings("unreadable files", report.unreadable, verbose)
    _lines("extra folders (not in the sheet)", [str(p) for p in report.extra_folders], verbose, "yellow")

    table = Table(title=f"{report.dataset}: data check")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_column("")
    per_class = ", ".join(f"{k} {v}" for k, v in report.class_counts.items())
    frames = "frames decoded" if report.decoded else "frames found (not decoded)"
    # (row, count, colour when non-zero, detail)
    rows = [
        ("clips in the sheet", report.clips, None, ""),
        ("  in the class set", report.labelled, None, per_class),
        ("subjects", report.subjects, None, ""),
        ("missing clips", len(report.missing_clips), "red", ""),
        ("clips with missing frames", len(report.missing_frames), "red", ""),
        ("unreadable files", len(report.unreadable), "red", ""),
        (frames, report.frames_checked, None, ""),
        ("extra folders", len(report.extra_folders), "yellow", ""),
        ("sheet quirks handled", len(report.issues), "yellow", ""),
    ]
    for label, count, colour, detail in rows:
        table.add_row(label, Text(str(count), style=colour if colour and count else ""), detail)
    console.print(table)
    if report.ok:
        console.print(f"[bold green]OK[/]: every clip of {escape(report.dataset)} is present" + (" and readable" if report.decoded else ""),
                      markup=True)
    else:
        console.print(f"[bold red]{report.problems} problem(s)[/]: the copy of {escape(report.dataset)} is incomplete or damaged",
                      markup=True)


def register(app: typer.Typer) -> None:
    data_app.command("list")(handles_errors(list_cmd))
    data_app.command("check")(handles_errors(check_cmd))
    app.add_typer(data_app, name="data")
