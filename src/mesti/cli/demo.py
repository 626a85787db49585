"""``mesti demo``: the main job on the built-in synthetic dataset (``make demo``)."""

from __future__ import annotations

from pathlib import Path

import typer

from mesti.cli.common import ConsoleHooks, console, handles_errors, progress
from mesti.utils.outputs import prepare_output_dir


def demo_cmd(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Where the data, cache, runs and report go."),
    quick: bool = typer.Option(False, "--quick", help="A seconds-long version (tiny data, one epoch) to check an install."),
) -> None:
    """Synthetic clips -> four inputs x two networks (report) -> one MESTI + MEGANet bundle ->
    a synthetic long video spotted and every expression classified (report.html)."""
    from mesti.cli.study import print_summary
    from mesti.demo import DemoSettings, run_demo

    settings = DemoSettings.quick() if quick else DemoSettings()
    prepare_output_dir(out, "demo")  # before any progress line: never among someone else's files
    with progress() as bar:
        hooks = ConsoleHooks(bar, {"synth": "generating the synthetic dataset", "cells": "grid",
                                   "demo": "then: bundle, long video, analysis"})
        result = run_demo(out, settings, hooks=hooks,
                          command="mesti demo" + (" --quick" if quick else "") + f" --out {out}")
        hooks.finish("synth")
    print_summary([r for r in result.rows if r["status"] == "ok"])
    console.print(f"grid report: {out / 'grid' / 'summary.md'} (each cell's report.md is linked from it)")
    console.print(f"model bundle (MESTI + MEGANet on every subject): {result.bundle} (card: {result.bundle / 'model.md'})")
    if result.scores:
        sc = result.scores
        console.print(f"long video {result.video.name}: spotting F1 {sc['spot_f1']:.3f}, recognition F1 "
                      f"{sc['recognition_f1']:.3f}, STRS {sc['strs']:.3f} (MEGC spot-then-recognise, flow spotting)")
    console.print(f"analysis: {result.analysis / 'report.html'} (open it in a browser)")


def register(app: typer.Typer) -> None:
    app.command("demo")(handles_errors(demo_cmd))
