"""``mesti encode``: one clip (frame folder or video) to one modality image, or all of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from rich.markup import escape

from mesti.cli.common import console, err_console, handles_errors, options_command, progress
from mesti.clips import Clip, load_clip
from mesti.errors import MestiError
from mesti.modalities import SCALE_MODES, encode, get_modality, list_modalities
from mesti.utils.atomic import atomic_dir, write_npy
from mesti.utils.outputs import ENCODINGS_MARKER, prepare_new_dir
from mesti.utils.images import write_png

_OUT_SUFFIXES = (".npy", ".png")


def _options(spec_options: tuple[str, ...], given: dict[str, Any], strict: bool, name: str) -> dict[str, Any]:
    opts = {k: v for k, v in given.items() if v is not None}
    if strict:
        extra = sorted(set(opts) - set(spec_options))
        if extra:
            flags = ", ".join("--" + k.replace("_", "-") for k in extra)
            raise MestiError(f"--modality {name}", f"does not take {flags}")
        return opts
    return {k: v for k, v in opts.items() if k in spec_options}


def _warn(clip: Clip) -> None:
    """What reading the clip found suspect (a truncated video), on stderr."""
    for warning in clip.meta.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {escape(clip.source)}: {escape(warning)}", markup=True, highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class EncodeOptions:
    """The options of ``encode``, in the order ``--help`` shows them."""

    source: Path = typer.Argument(..., help="A folder of frames (sorted naturally: img2 < img10) or a video file.")
    out: Path = typer.Option(..., "--out", "-o", help="x.npy (float32 H x W x C as computed), x.png (the picture), or a folder with --all.")
    modality: str | None = typer.Option(None, "--modality", "-m", help="One of: " + ", ".join(list_modalities()))
    all_: bool = typer.Option(False, "--all", help="Write every modality (.png and .npy) and a contact sheet into --out DIR.")
    onset: int | None = typer.Option(None, help="0-based position of the onset frame (default: the first).")
    apex: int | None = typer.Option(None, help="0-based position of the apex frame (default: the middle of onset..offset).")
    offset: int | None = typer.Option(None, help="0-based position of the offset frame (default: the last).")
    scale: str | None = typer.Option(None, "--scale", help="Scaling: " + ", ".join(SCALE_MODES) + " (default minmax).")
    channels: str | None = typer.Option(None, help="Flow channels: uvs (u, v, strain; default) or uvm (u, v, magnitude).")
    strain_scheme: str | None = typer.Option(None, help="Strain derivatives: backward (default), forward, central.")
    symmetric_range: float | None = typer.Option(None, help="Rank pooling, symmetric scale: mean grey-level change that reaches white (16).")
    flow_range: float | None = typer.Option(None, help="Flow, symmetric scale: pixels that reach full scale (2).")
    overwrite: bool = typer.Option(False, "--overwrite", help="With --all: replace an earlier `mesti encode --all` folder at --out.")


def _encode(o: EncodeOptions) -> None:
    """Encode one clip as an image: MESTI, dynamic image, apex, TV-L1 flow, optical strain, Active or Affective motion image."""
    if o.all_ == (o.modality is not None):
        raise MestiError("mesti encode", "give exactly one of --modality NAME or --all")
    given = {"scale": o.scale, "channels": o.channels, "strain_scheme": o.strain_scheme,
             "symmetric_range": o.symmetric_range, "flow_range": o.flow_range}
    if o.scale is not None and o.scale not in SCALE_MODES:
        raise MestiError("--scale", f"unknown scaling {o.scale!r}; choose one of {', '.join(SCALE_MODES)}")
    if not o.all_:
        assert o.modality is not None
        spec = get_modality(o.modality)
        opts = _options(spec.options, given, strict=True, name=o.modality)
        if o.out.suffix.lower() not in _OUT_SUFFIXES:
            raise MestiError(o.out, "the output must end in .npy or .png")
        if o.out.suffix.lower() == ".png" and o.scale == "raw":
            raise MestiError(o.out, "--scale raw gives signed floats, not a picture; write an .npy file")
        clip = load_clip(o.source, onset=o.onset, apex=o.apex, offset=o.offset)
        _warn(clip)
        image = encode(clip, o.modality, **opts)
        if o.out.suffix.lower() == ".npy":
            write_npy(o.out, image.astype(np.float32))
        else:
            write_png(o.out, image)
        console.print(f"{o.modality}: {clip.name} (frames {clip.onset}..{clip.offset}, apex {clip.apex}, 0-based) -> {o.out} {image.shape[1]}x{image.shape[0]}x{image.shape[2]}")
        return

    if o.out.exists() and not o.out.is_dir():
        raise MestiError(o.out, "--all writes a folder, and this path is a file")
    prepare_new_dir(o.out, "encodings folder", overwrite=o.overwrite)  # never among, or over, someone else's files
    clip = load_clip(o.source, onset=o.onset, apex=o.apex, offset=o.offset)
    _warn(clip)
    images: dict[str, np.ndarray] = {}
    names = list_modalities()
    with progress() as bar:
        task = bar.add_task(f"encoding {clip.name}", total=len(names))
        for name in names:
            spec = get_modality(name)
            images[name] = encode(clip, name, **_options(spec.options, given, strict=False, name=name))
            bar.advance(task)
    # Everything is computed before anything is written: a failure leaves no partial folder.
    from mesti.reports.contact_sheet import contact_sheet

    scaled = o.scale != "raw"
    with atomic_dir(o.out, "encodings folder") as tmp:
        for name, image in images.items():
            write_npy(tmp / f"{name}.npy", image.astype(np.float32))
            write_png(tmp / f"{name}.png", image, already_scaled=scaled)
        contact_sheet(clip, images, tmp / ENCODINGS_MARKER, already_scaled=scaled)
    sheet = o.out / ENCODINGS_MARKER
    console.print(f"{len(images)} modalities of {clip.name} -> {o.out}/ (contact sheet: {sheet})")


encode_cmd = options_command(EncodeOptions, _encode)


def register(app: typer.Typer) -> None:
    app.command("encode")(handles_errors(encode_cmd))
