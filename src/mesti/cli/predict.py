"""``mesti predict``: the class of one clip (frame folder or video) from a bundle, a fold model or a fold ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from mesti.cli.common import ALLOW_PARTIAL, console, handles_errors, load_predictor


def predict_cmd(
    source: Path = typer.Argument(..., help="A folder of frames or a video."),
    checkpoint: Path = typer.Option(..., "--model", "--checkpoint",
                                    help="A bundle (`mesti train`), a fold checkpoint RUN_DIR/checkpoints/<fold>.pt, or "
                                         "a run directory with saved checkpoints (a fold ensemble: their mean)."),
    onset: int | None = typer.Option(None, help="0-based onset position (default: the first frame)."),
    apex: int | None = typer.Option(None, help="0-based apex position (default: the middle)."),
    offset: int | None = typer.Option(None, help="0-based offset position (default: the last frame)."),
    pictures: Path | None = typer.Option(None, "--pictures", help="Save the encoded image and the gradient-attention map here."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    allow_partial: bool = ALLOW_PARTIAL,
) -> None:
    """Predict one clip with the preprocessing and modality the model was trained with."""
    from mesti.clips import load_clip
    from mesti.errors import MestiError

    if pictures is not None and source.is_dir() and pictures.resolve().is_relative_to(source.resolve()):
        # a picture written among the frames would become a frame of the clip at the next read
        raise MestiError("--pictures", f"{pictures} lies inside the clip's folder {source}; choose a folder outside it")
    if pictures is not None and pictures.exists() and not pictures.is_dir():
        raise MestiError("--pictures", f"{pictures} exists and is not a folder; give --pictures a folder")
    predictor = load_predictor(checkpoint, allow_partial)
    if pictures is not None:  # the user's own files of these names are never replaced
        for name in (f"{predictor.pipeline.modality or 'image'}.png", "attention.png"):
            if (pictures / name).exists() or (pictures / name).is_symlink():
                raise MestiError("--pictures", f"{pictures / name} already exists; predict never replaces a file: "
                                               "remove it or choose another folder")
    clip = load_clip(source, onset=onset, apex=apex, offset=offset)
    result = predictor.predict(clip)
    if pictures is not None:
        _save_pictures(pictures, result, predictor.pipeline.modality or "image")
    if as_json:
        typer.echo(json.dumps({"clip": clip.name, "model": result.model, "prediction": result.label,
                                "probabilities": result.probabilities}, allow_nan=False))
        return
    table = Table(title=f"{clip.name}: {result.label}", caption=result.model)
    table.add_column("class")
    table.add_column("probability", justify="right")
    for name, p in sorted(result.probabilities.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{p:.3f}")
    console.print(table)


def _save_pictures(folder: Path, result, modality: str) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    from mesti.utils.atomic import write_bytes
    from mesti.utils.images import write_png

    write_png(folder / f"{modality}.png", result.image)
    if result.attention is not None:
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
        axes[0].imshow(result.image.clip(0, 255).astype("uint8").squeeze())
        axes[0].set_title(modality)
        im = axes[1].imshow(result.attention, cmap="inferno", vmin=0, vmax=1)
        axes[1].set_title("gradient attention")
        fig.colorbar(im, ax=axes[1], fraction=0.046)
        for ax in axes:
            ax.axis("off")
        fig.suptitle(f"prediction: {result.label}\n{result.model}", fontsize=9)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        write_bytes(folder / "attention.png", buf.getvalue())
    console.print(f"pictures: {folder}")


def register(app: typer.Typer) -> None:
    app.command("predict")(handles_errors(predict_cmd))
