"""``mesti demo``: the main job on the built-in synthetic dataset (``make demo``)."""

from __future__ import annotations

from pathlib import Path

import typer

from mesti.cli.common import console, handles_errors, progress


def demo_cmd(
    out: Path = typer.Option(Path("demo_out"), "--out", "-o", help="Where the data, cache, runs and report go."),
    quick: bool = typer.Option(False, "--quick", help="A seconds-long version (tiny data, one epoch) to check an install."),
) -> None:
    """Synthetic dataset -> apex / flow / dynamic image / MESTI -> MEGANet and ResNet-50 -> report."""
    from mesti.cli.study import print_summary
    from mesti.training.demo import DemoSettings, run_demo

    settings = DemoSettings.quick() if quick else DemoSettings()
    with progress() as bar:
        gen = bar.add_task("generating the synthetic dataset", total=None)
        grid = bar.add_task("grid", total=None)

        def on_generate(done: int, total: int) -> None:
            bar.update(gen, completed=done, total=total)

        def on_progress(done: int, total: int, description: str) -> None:
            bar.update(grid, total=total, completed=done, description=description)

        rows = run_demo(out, settings, on_generate=on_generate, on_progress=on_progress,
                        command="mesti demo" + (" --quick" if quick else "") + f" --out {out}")
        bar.update(grid, completed=len(rows))
        bar.update(gen, completed=bar.tasks[gen].total or 1, total=bar.tasks[gen].total or 1)
    print_summary(rows)
    console.print(f"report: {out / 'grid' / 'summary.md'} (each cell's report.md is linked from it)")


def register(app: typer.Typer) -> None:
    app.command("demo")(handles_errors(demo_cmd))
