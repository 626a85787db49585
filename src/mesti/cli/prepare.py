"""``mesti prepare``: a dataset's clips to cached modality images, once, in parallel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from mesti.cache import FRAME_CHECKS, REPORT_NAME, default_workers, prepare
from mesti.cli.common import MANIFEST_HELP, ConsoleHooks, console, handles_errors, options_command, progress, sheet_or_manifest, show_skipped
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.modalities import SCALE_MODES, get_modality, list_modalities
from mesti.preprocessing import EQUALIZE_MODES, FACE_MODES, PreprocessConfig


def _modalities(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise MestiError("--modalities", "name at least one modality, e.g. mesti,apex")
    for n in names:
        get_modality(n)  # a clear error listing the valid names
    return names


@dataclass(frozen=True)
class PrepareOptions:
    """The options of ``mesti prepare``, in the order ``--help`` shows them."""

    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset adapter: casme2, samm, smic, composite, folder ... (see mesti data check).")
    root: Path = typer.Option(..., "--root", help="The dataset folder as distributed.")
    out: Path = typer.Option(..., "--out", "-o", help="Cache folder (created; re-using it skips finished images).")
    modalities: str = typer.Option("mesti", "--modalities", "-m", help="Comma-separated: " + ", ".join(list_modalities()))
    sheet: Path | None = typer.Option(None, "--sheet", help="Annotation sheet (default: found in --root).")
    manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP)
    classes: int | None = typer.Option(None, "--classes", help="Class set: 5 or 3 (default: the adapter's, usually 5).")
    size: int = typer.Option(224, "--size", help="Output images are SIZE x SIZE.")
    face: str = typer.Option("dlib-hog", "--face", help="Face finding: " + ", ".join(FACE_MODES) + " (none: frames are already crops; only resize).")
    align: bool = typer.Option(True, "--align/--no-align", help="Level the eyes (one transform per clip, from the onset frame).")
    margin: float = typer.Option(0.15, "--margin", help="Widen the face box by this fraction of its side on each side.")
    equalize: str = typer.Option("frame", "--equalize", help="Histogram equalisation of luminance: " + ", ".join(EQUALIZE_MODES) + ".")
    no_equalize: bool = typer.Option(False, "--no-equalize", help="Same as --equalize off.")
    workers: int = typer.Option(default_workers(), "--workers", "-j", help="Worker processes (1: in this process).")
    verify_frames: str = typer.Option("stat", "--verify-frames", help="How frames enter the cache key: " + ", ".join(FRAME_CHECKS) + " (content hashes every file).")
    scale: str | None = typer.Option(None, "--scale", help="Encoder scaling where taken: " + ", ".join(SCALE_MODES) + ".")
    channels: str | None = typer.Option(None, "--channels", help="Flow channels for flow modalities: uvs or uvm.")
    strict: bool = typer.Option(False, "--strict", help="A clip that cannot be prepared is an error (exit 2), not a skip.")


def _prepare(o: PrepareOptions) -> None:
    """Compute modality images for every labelled clip into a cache that training reads."""
    names = _modalities(o.modalities)
    if o.no_equalize and o.equalize != "frame":
        raise MestiError("--no-equalize", f"conflicts with --equalize {o.equalize}; give one of them")
    if o.scale is not None and o.scale not in SCALE_MODES:
        raise MestiError("--scale", f"unknown scaling {o.scale!r}; choose one of {', '.join(SCALE_MODES)}")
    config = PreprocessConfig(face=o.face, align=o.align, margin=o.margin, equalize="off" if o.no_equalize else o.equalize, size=o.size)
    given = {k: v for k, v in {"scale": o.scale, "channels": o.channels}.items() if v is not None}
    options = {n: {k: v for k, v in given.items() if k in get_modality(n).options} for n in names}
    adapter = create_dataset(o.dataset, o.root, sheet=sheet_or_manifest(o.sheet, o.manifest), classes=o.classes)

    with progress() as bar:
        report = prepare(adapter, names, o.out, config=config, options=options, workers=o.workers,
                         verify_frames=o.verify_frames, hooks=ConsoleHooks(bar))
    console.print(report.summary(), highlight=False)
    console.print(f"cache: {o.out}/<modality>/index.json; report: {o.out / REPORT_NAME}", highlight=False)
    show_skipped(report.failures, o.strict)
    if report.clips and not report.prepared:
        raise typer.Exit(1)


prepare_cmd = options_command(PrepareOptions, _prepare)


def register(app: typer.Typer) -> None:
    app.command("prepare")(handles_errors(prepare_cmd))
