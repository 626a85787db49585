"""``mesti config show``: the study a command would run, resolved from its file, overrides and flags."""

from __future__ import annotations

import typer

from mesti.cli.common import console, handles_errors
from mesti.cli.spec_options import Request, study_command


def _show(request: Request) -> None:
    console.print(request.cell.to_yaml().rstrip(), markup=False, highlight=False, soft_wrap=True)


show_cmd = study_command("show", _show, "Print the resolved study (YAML, the --config schema) of --config FILE, "
                         "KEY=VALUE overrides and flags: what `mesti loso --config` would run. Its protocol is the "
                         "file's (default loso; --folds for k-fold, the hold-out flags for a hold-out).")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Study files: `mesti config show` prints a resolved study.", no_args_is_help=True)
    group.command("show")(handles_errors(show_cmd))
    app.add_typer(group, name="config")
