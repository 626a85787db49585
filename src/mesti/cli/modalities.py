"""``mesti modalities``: every input modality with its declared options."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from mesti.cli.common import console, handles_errors
from mesti.errors import MestiError
from mesti.modalities import get_modality, list_modalities


def _show_one(name: str) -> None:
    spec = get_modality(name)
    console.print(f"[bold]{name}[/]: {escape(spec.description)}", markup=True, highlight=False)
    console.print(f"output: {spec.output}", markup=False, highlight=False)
    if not spec.params:
        console.print("options: none")
        return
    console.print("options:")
    for opt in spec.params:
        console.print(f"  {opt.describe()}", markup=False, highlight=False)
        console.print(f"      {opt.help}", markup=False, highlight=False)


def modalities_cmd(
    name: str | None = typer.Argument(None, help="Show one modality in full (output range, what each option does)."),
    pattern: str | None = typer.Option(None, "--match", help="Only names matching this shell pattern (e.g. 'flow_*')."),
) -> None:
    """List every input modality with its channels and options (what mesti encode, prepare and grids take)."""
    if name is not None:
        try:
            _show_one(name)
        except MestiError as exc:  # the name is this command's argument, not a --modality option
            raise MestiError(f"mesti modalities {name}", exc.what) if exc.where == "--modality" else exc from None
        return
    table = Table(title="mesti modalities")
    table.add_column("name", style="bold")
    table.add_column("channels", justify="right")
    table.add_column("options (name: type = default)")
    table.add_column("description")
    for modality in list_modalities(pattern):
        spec = get_modality(modality)
        options = "\n".join(o.describe() for o in spec.params) or "none"
        table.add_row(modality, str(spec.channels), options, spec.description)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("modalities")(handles_errors(modalities_cmd))
