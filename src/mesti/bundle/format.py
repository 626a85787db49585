"""The model bundle: one folder that holds everything needed to run a trained model.

Layout::

    bundle.json     format and version, mesti version, provenance (what it was trained on),
                    and the SHA-256 digest of every other file
    model.pt        the weights, a plain state dict (read with ``weights_only=True``)
    model.json      the network config that rebuilds it (mesti.models.checkpoint)
    pipeline.json   classes, modality and options, face preprocessing, normalisation, input size
    model.md        the model card: what it was trained on and how good it is expected to be

The folder is written beside its destination and renamed into place, so it appears whole
or not at all. A bundle written by a newer mesti (a higher format version) is refused, and
so is one whose files no longer match their digests (weights swapped, a class list
reordered, a card edited) or whose recorded estimate holds figures no run produces.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from mesti._version import __version__
from mesti.pipeline import Pipeline, read_pipeline, write_pipeline
from mesti.errors import MestiError
from mesti.reports.metrics import check_figures
from mesti.utils.atomic import atomic_dir, write_json, write_text

FORMAT = "mesti-bundle"
FORMAT_VERSION = 2  # 2: bundle.json holds the files' digests
MANIFEST = "bundle.json"
WEIGHTS = "model.pt"
FILES = (MANIFEST, WEIGHTS, "model.json", "pipeline.json", "model.md")
DIGESTED = FILES[1:]


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Bundle:
    """A loaded bundle: the network (eval mode, CPU), its pipeline and its provenance."""

    path: Path
    model: nn.Module
    pipeline: Pipeline
    provenance: dict[str, Any]


def is_bundle(path: str | Path) -> bool:
    """A folder with a bundle manifest (it may still be incomplete: :func:`read_bundle` checks)."""
    return (Path(path) / MANIFEST).is_file()


def save_bundle(folder: str | Path, model: nn.Module, pipeline: Pipeline, provenance: dict[str, Any],
                card: str) -> Path:
    """Write the bundle atomically; ``model`` must come from :func:`mesti.models.create_model`."""
    from mesti.models.checkpoint import save_checkpoint
    from mesti.models.info import model_config

    pipeline.check_model(model_config(model), folder)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "mesti_version": __version__,
                "provenance": provenance}
    try:
        json.dumps(manifest)
    except TypeError as exc:
        raise MestiError(folder, f"provenance must be JSON values: {exc}") from None
    with atomic_dir(folder, "bundle") as tmp:
        save_checkpoint(model.cpu(), tmp / WEIGHTS)
        write_pipeline(tmp / "pipeline.json", pipeline)
        write_text(tmp / "model.md", card)
        manifest["digests"] = {name: file_digest(tmp / name) for name in DIGESTED}
        write_json(tmp / MANIFEST, manifest)
    return Path(folder)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The bundle's manifest, after checking its format, version and that no file is missing."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise MestiError(folder, f"not a mesti bundle (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MestiError(path, f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MestiError(path, f"not a mesti bundle manifest (no \"format\": \"{FORMAT}\")")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise MestiError(path, f"bad bundle format version {version!r}")
    if version > FORMAT_VERSION:
        raise MestiError(folder, f"bundle format {version} was written by mesti {manifest.get('mesti_version', '?')}; "
                                 f"this mesti ({__version__}) reads format {FORMAT_VERSION} at most: upgrade mesti")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise MestiError(folder, f"incomplete bundle: {', '.join(missing)} missing")
    digests = manifest.get("digests")
    if version < 2 or not isinstance(digests, dict):
        command = (manifest.get("provenance") or {}).get("command") if isinstance(manifest.get("provenance"), dict) else None
        raise MestiError(path, "lists no digests of the bundle's files, so they cannot be checked; train it again "
                               f"with this mesti{f' ({command})' if command else ''}")
    if sorted(digests) != sorted(DIGESTED) or not all(isinstance(v, str) for v in digests.values()):
        raise MestiError(path, f"its digests must name exactly {', '.join(DIGESTED)}, each with a SHA-256 text; "
                               f"it names {', '.join(map(str, digests)) or 'none'}: the file was edited")
    provenance = manifest.get("provenance")
    if not isinstance(provenance, dict):
        raise MestiError(path, "no provenance record (what the model was trained on)")
    if provenance.get("estimate") is not None:
        check_figures(provenance["estimate"], f"{path}: its estimate")
    return manifest


def check_digests(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a bundle whose files changed after it was written (weights swapped, pipeline or
    card edited): each must match the digest its manifest recorded."""
    for name in DIGESTED:
        if file_digest(folder / name) != manifest["digests"][name]:
            raise MestiError(folder / name, f"does not match the digest in {MANIFEST}: the file was changed or replaced "
                                            "after the bundle was written; restore it or train the bundle again")


def read_bundle(folder: str | Path) -> Bundle:
    """Load a bundle, refusing a newer format, a missing file, or weights that disagree with
    the pipeline (class count, input size)."""
    from mesti.models.checkpoint import load_checkpoint, read_config

    folder = Path(folder)
    manifest = read_manifest(folder)
    pipeline = read_pipeline(folder / "pipeline.json")
    pipeline.check_model(read_config(folder / WEIGHTS), folder / WEIGHTS)
    check_digests(folder, manifest)
    model = load_checkpoint(folder / WEIGHTS)
    return Bundle(folder, model.eval(), pipeline, dict(manifest.get("provenance") or {}))
