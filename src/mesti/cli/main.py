"""The ``mesti`` Typer app. Each command lives in its own module and registers itself here."""

from __future__ import annotations

import typer

from mesti import __version__
from mesti.cli import data, demo, encode, paper, plot, predict, study, synth
from mesti.cli import models as models_cli
from mesti.cli import prepare as prepare_cli

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
) -> None:
    """Micro-expression recognition toolkit."""


encode.register(app)
data.register(app)
study.register(app)
predict.register(app)
demo.register(app)
prepare_cli.register(app)
models_cli.register(app)
synth.register(app)
paper.register(app)
plot.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
