"""Which folders mesti may write into or replace: its own outputs, recognised by their marks.

``--overwrite`` deletes a folder, so it may only delete one that is recognisably a mesti
output of the kind the command makes (a run, a synthetic dataset, a cache, a grid); a folder
holding anything else is refused, never emptied. The same check stops a command from
scattering its files among someone else's.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Literal

import yaml

from mesti.errors import MestiError
from mesti.utils.atomic import check_writable

OutputKind = Literal["run", "synthetic dataset", "cache", "grid", "spotting result", "spotting evaluation", "analysis", "bundle"]

#: A run's resolved configuration (with ``mesti_version``) beside its ``folds/`` folder.
RUN_CONFIG = "config.yaml"
RUN_FOLDS = "folds"
#: Written by ``mesti synth`` into every dataset it makes (``synth_long.json`` with ``--long``).
SYNTH_MARKER = "synth.json"
SYNTH_LONG_MARKER = "synth_long.json"
#: Written by ``mesti prepare`` at the top of a cache; each modality folder has an index.
CACHE_MARKER = "prepare_report.json"
CACHE_INDEX = "index.json"
#: Written by ``mesti grid`` when a grid ends; its cells are runs three folders down.
GRID_MARKER = "summary.json"
#: ``mesti spot`` / ``mesti analyze`` write intervals.json; ``mesti spot-eval`` a summary with
#: per_video.csv; ``mesti train`` a bundle with bundle.json.
SPOT_MARKER = "intervals.json"
SPOT_EVAL_MARKER = "per_video.csv"
#: ``mesti analyze`` adds report.html beside its intervals.
ANALYSIS_MARKER = "report.html"
BUNDLE_MARKER = "bundle.json"


def _is_run(path: Path) -> bool:
    """A run folder: its config (with ``mesti_version``) beside ``folds/``; or a multi-seed run
    whose entries are ``seed-<n>`` runs (whose pooled config may not be written yet)."""
    config = path / RUN_CONFIG
    if config.is_file() and (path / RUN_FOLDS).is_dir():
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return False
        return isinstance(data, dict) and "mesti_version" in data
    seeds = [p for p in path.iterdir() if p.name not in (RUN_CONFIG, RUN_FOLDS)]
    return bool(seeds) and all(re.fullmatch(r"seed-\d+", p.name) and p.is_dir() and _is_run(p) for p in seeds)


def output_kind(path: str | Path) -> OutputKind | None:
    """What mesti output ``path`` is, by its marks, or ``None`` (not one, or not a folder)."""
    path = Path(path)
    if not path.is_dir():
        return None
    if _is_run(path):
        return "run"
    if (path / SYNTH_MARKER).is_file() or (path / SYNTH_LONG_MARKER).is_file():
        return "synthetic dataset"
    if (path / CACHE_MARKER).is_file() or any(p.is_file() for p in path.glob(f"*/{CACHE_INDEX}")):
        return "cache"
    if (path / SPOT_EVAL_MARKER).is_file() and (path / GRID_MARKER).is_file():
        return "spotting evaluation"
    if (path / SPOT_MARKER).is_file():
        return "analysis" if (path / ANALYSIS_MARKER).is_file() else "spotting result"
    if (path / BUNDLE_MARKER).is_file():
        return "bundle"
    if (path / GRID_MARKER).is_file() or any(_is_run(c.parent) for c in path.glob(f"*/*/*/*/{RUN_CONFIG}")):
        return "grid"
    return None


def prepare_output_dir(path: str | Path, kind: OutputKind, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Check ``path`` before ``kind`` is written there; with ``overwrite`` remove an earlier one.

    Accepted: a missing or empty folder, or a folder that is a mesti ``kind`` (resumed, or
    replaced with ``overwrite``). Refused with :class:`MestiError`: a file, a folder whose
    parent cannot be written, and any non-empty folder that is not a ``kind``; nothing is
    deleted then.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MestiError(path, f"exists and is not a folder; give {option} a folder")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise MestiError(path, f"cannot write here: {parent} is a file, not a folder")
    if not path.exists():
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            raise MestiError(path, f"cannot write here: {parent} is not a writable folder")
        return check_writable(path)  # a name too long, or a folder nothing can be created in (even as root)
    if not any(path.iterdir()):
        return path
    found = output_kind(path)
    if found != kind:
        what = f"a mesti {found}" if found else "files that are not a mesti output"
        raise MestiError(path, f"holds {what}, not a mesti {kind}; refusing to overwrite it or write into it: choose another {option}")
    if overwrite:
        shutil.rmtree(path)
    return path


def prepare_new_dir(path: str | Path, kind: OutputKind, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Check ``path`` for an output written whole (``atomic_dir`` puts the finished folder in
    place): a non-empty folder is replaced only with ``overwrite``, and only when it is a
    mesti ``kind``; nothing is removed here, so a failed run leaves the old folder as it was."""
    path = Path(path)
    check_writable(path, whole=True)  # its temporary sibling's name too, before any work
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise MestiError(path, f"the folder is not empty; pass --overwrite to replace a mesti {kind} there")
    return prepare_output_dir(path, kind, option=option)
