"""``mesti models`` (what networks exist) and ``mesti export`` (a checkpoint to ONNX)."""

from __future__ import annotations

from pathlib import Path

import torch
import typer
from rich.table import Table

from mesti.cli.common import console, handles_errors
from mesti.errors import MestiError
from mesti.models import create_model, get_model_info, list_models, load_checkpoint, model_config, model_info, num_params
from mesti.models.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, export_onnx


def _shape(size: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in size)


def _show_one(name: str, num_classes: int) -> None:
    info = get_model_info(name)
    with torch.device("meta"):  # counts parameters without allocating or initialising them
        params = num_params(create_model(name, num_classes))
    console.print(f"[bold]{name}[/]: ", end="", markup=True)
    console.print(info.description, markup=False)
    console.print(f"input {_shape(info.input_size)} (C x H x W); {params:,} learnable parameters with {num_classes} classes")
    console.print(f"source: {info.source}", markup=False, highlight=False)
    if info.native_recipe is None:
        console.print("recipe: the project's (docs/method.md, Training)")
        return
    console.print("native recipe:")
    for key, value in info.native_recipe.items():
        console.print(f"  {key}: {'not stated' if value is None else value}", markup=False, highlight=False)


def models_cmd(
    name: str | None = typer.Argument(None, help="Show one network in full (source, native training recipe)."),
    num_classes: int = typer.Option(3, "--num-classes", "-n", min=1, help="Classes for the parameter counts."),
) -> None:
    """List every network with its input size and parameter count."""
    if name is not None:
        try:
            _show_one(name, num_classes)
        except MestiError as exc:  # the name is this command's argument, not a --model option
            raise MestiError(f"mesti models {name}", exc.what) if exc.where == "--model" else exc from None
        return
    table = Table(title=f"mesti models (parameters with {num_classes} classes)")
    table.add_column("name", style="bold")
    table.add_column("input (C x H x W)")
    table.add_column("parameters", justify="right")
    table.add_column("description")
    for model_name in list_models():
        info = get_model_info(model_name)
        with torch.device("meta"):
            params = num_params(create_model(model_name, num_classes))
        table.add_row(model_name, _shape(info.input_size), f"{params:,}", info.description)
    console.print(table)


def export_cmd(
    checkpoint: Path = typer.Argument(..., help="A bundle folder (`mesti train`) or a checkpoint .pt written by mesti "
                                                "(its .json config beside it)."),
    onnx: Path = typer.Option(..., "--onnx", help="Where to write the ONNX model (dynamic batch axis)."),
    opset: int = typer.Option(DEFAULT_OPSET, help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET}."),
    atol: float = typer.Option(1e-4, help="Allowed max |onnxruntime - PyTorch| (plus 1e-4 x the largest logit)."),
) -> None:
    """Export a bundle's or a checkpoint's network to ONNX and check onnxruntime against PyTorch."""
    if onnx.suffix.lower() != ".onnx":
        raise MestiError(onnx, "the output must end in .onnx")
    if checkpoint.is_dir():
        from mesti.bundle import is_bundle, read_bundle

        if not is_bundle(checkpoint) and not (checkpoint / "pipeline.json").is_file():
            raise MestiError(checkpoint, "not a bundle; a run directory holds a fold ensemble, which is not one "
                                         "network: export one fold's .pt, or `mesti train` a bundle")
        model = read_bundle(checkpoint).model
    else:
        model = load_checkpoint(checkpoint)
    result = export_onnx(model, onnx, opset=opset, atol=atol)
    cfg = model_config(model)
    size_mb = result.path.stat().st_size / 2**20
    console.print(f"{cfg['name']} ({cfg['num_classes']} classes, input {_shape(model_info(model).input_size)}) -> {result.path} ({size_mb:.1f} MB, opset {opset})")
    console.print(f"onnxruntime agrees with PyTorch: max |diff| = {result.max_abs_diff:.3g} on a batch of {result.input_shape[0]} (tolerance {result.tolerance:.3g})")


def register(app: typer.Typer) -> None:
    app.command("models")(handles_errors(models_cmd))
    app.command("export")(handles_errors(export_cmd))
