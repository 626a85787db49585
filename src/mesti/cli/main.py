"""The ``mesti`` Typer app. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import os

import typer

from mesti._version import __version__
from mesti.cli import analyze, config, data, demo, encode, paper, plot, predict, spot, study, synth, train
from mesti.cli import modalities as modalities_cli
from mesti.cli import models as models_cli
from mesti.cli import prepare as prepare_cli
from mesti.clips.io import DEFAULT_MAX_FRAME_PIXELS, MAX_FRAME_PIXELS_ENV

app = typer.Typer(
    name="mesti",
    help="Micro-expression recognition: MESTI images, MEGANet, honest leave-one-subject-out evaluation. "
         "The method, protocols and datasets: docs/ in the repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mesti {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    allow_large_frames: bool = typer.Option(
        False, "--allow-large-frames",
        help=f"Read frames above {DEFAULT_MAX_FRAME_PIXELS:,} pixels (refused by default: a few such PNGs exhaust memory).",
    ),
) -> None:
    """Micro-expression recognition toolkit."""
    if allow_large_frames:
        os.environ[MAX_FRAME_PIXELS_ENV] = "0"  # the environment reaches worker processes too


encode.register(app)
data.register(app)
study.register(app)
train.register(app)
predict.register(app)
demo.register(app)
prepare_cli.register(app)
models_cli.register(app)
modalities_cli.register(app)
synth.register(app)
spot.register(app)
paper.register(app)
plot.register(app)
analyze.register(app)
config.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
