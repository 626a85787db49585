"""``mesti plot weights``: the coefficients behind MESTI and the dynamic image (the paper's Fig. 2)."""

from __future__ import annotations

from pathlib import Path

import typer

from mesti.cli.common import console, handles_errors
from mesti.errors import MestiError

plot_app = typer.Typer(help="Figures that explain the method (docs/method.md).", no_args_is_help=True)


def weights_cmd(
    frames: int = typer.Option(..., "--frames", "-T", help="Clip length T (onset to offset, inclusive)."),
    apex: int = typer.Option(..., "--apex", "-a", help="Apex index a, 1-based as in the paper's formula (1 <= a <= T)."),
    out: Path = typer.Option(..., "--out", "-o", help="PNG to write."),
) -> None:
    """Draw the MESTI and dynamic-image coefficients of every frame and print the MESTI weights."""
    from mesti.modalities import mesti_weights
    from mesti.reports.figures import rank_weights_png

    if frames < 2:
        raise MestiError("--frames", f"{frames}: a clip needs at least 2 frames")
    if out.suffix.lower() != ".png":
        raise MestiError(out, "--out must name a .png file")
    if not 1 <= apex <= frames:
        raise MestiError("--apex", f"{apex} must lie in 1..{frames} (1-based, within the clip)")
    weights = mesti_weights(frames, apex)
    path = rank_weights_png(frames, apex, out)
    console.print(f"MESTI weights (T = {frames}, a = {apex}): {' '.join(str(int(w)) for w in weights)}")
    console.print(f"figure: {path}")


def register(app: typer.Typer) -> None:
    plot_app.command("weights")(handles_errors(weights_cmd))
    app.add_typer(plot_app, name="plot")
