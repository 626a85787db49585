"""The cache on disk: ``CACHE/<modality>/<key>.npy`` images plus one ``index.json`` each.

An image is a float32 ``H x W x C`` array written atomically, so a file under its final name
is complete unless something outside this code damaged it; :func:`entry_ok` checks the
header and the file's length against the expected shape without reading the pixels, which
catches truncated and mis-shaped files at the cost of one small read per entry.

``index.json`` maps every prepared clip to its file with its label, subject and dataset, plus
the settings it was made with and the class names in label order. Readers (the torch
datasets) only go through the index; it is replaced atomically at the end of each run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mesti.errors import MestiError
from mesti.utils.atomic import write_json, write_npy
from mesti.utils.outputs import CACHE_INDEX, CACHE_MARKER

INDEX_NAME = CACHE_INDEX
INDEX_FORMAT = 1
REPORT_NAME = CACHE_MARKER


@dataclass(frozen=True)
class IndexEntry:
    """One prepared clip of one modality."""

    key: str
    file: str
    label: str
    subject: str
    dataset: str
    clip_id: str


def modality_dir(cache: Path, modality: str) -> Path:
    return Path(cache) / modality


def entry_path(cache: Path, modality: str, key: str) -> Path:
    return modality_dir(cache, modality) / f"{key}.npy"


def entry_ok(path: Path, shape: Sequence[int]) -> bool:
    """Whether ``path`` is a complete float32 C-order ``.npy`` array of ``shape``."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                found, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                found, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                return False
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
    except (OSError, ValueError, SyntaxError):
        return False
    if fortran or dtype != np.dtype(np.float32) or tuple(found) != tuple(shape):
        return False
    return size == offset + int(np.prod(found)) * dtype.itemsize


def write_entry(path: Path, image: np.ndarray) -> None:
    """Store one image atomically as float32."""
    write_npy(path, np.ascontiguousarray(image, dtype=np.float32))


def write_index(
    cache: Path,
    modality: str,
    entries: Sequence[IndexEntry],
    class_names: Sequence[str],
    settings: dict[str, Any],
    complete: bool,
) -> Path:
    """Replace ``CACHE/<modality>/index.json`` atomically.

    ``complete`` is False when the run was interrupted: readers refuse such an index unless
    told otherwise, so a half-prepared cache is never trained on by accident.
    """
    doc = {
        "format": INDEX_FORMAT,
        "modality": modality,
        "complete": complete,
        "class_names": list(class_names),
        "settings": settings,
        "entries": [asdict(e) for e in entries],
    }
    return write_json(modality_dir(cache, modality) / INDEX_NAME, doc)


@dataclass(frozen=True)
class CacheIndex:
    """A modality's index as read back: entries, class names and the settings used."""

    modality: str
    folder: Path
    entries: list[IndexEntry]
    class_names: list[str]
    settings: dict[str, Any]
    complete: bool

    def path(self, entry: IndexEntry) -> Path:
        return self.folder / entry.file


def read_index(cache: str | os.PathLike[str], modality: str, allow_incomplete: bool = False) -> CacheIndex:
    """Read ``CACHE/<modality>/index.json``; :class:`MestiError` when absent or unfinished."""
    folder = modality_dir(Path(cache), modality)
    path = folder / INDEX_NAME
    if not path.is_file():
        have = sorted(p.parent.name for p in Path(cache).glob(f"*/{INDEX_NAME}")) if Path(cache).is_dir() else []
        hint = f" (this cache has: {', '.join(have)})" if have else " (run mesti prepare first)"
        raise MestiError(path, f"no prepared {modality!r} images{hint}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = [IndexEntry(**e) for e in doc["entries"]]
        index = CacheIndex(modality, folder, entries, list(doc["class_names"]), dict(doc["settings"]), bool(doc["complete"]))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MestiError(path, f"unreadable cache index ({exc.__class__.__name__}: {exc}); re-run mesti prepare") from None
    bad = [e.file for e in entries if Path(e.file).name != e.file or not e.file.endswith(".npy")]
    if bad:
        raise MestiError(path, f"entry file {bad[0]!r} is not a bare .npy name in the cache folder; refusing the index")
    if doc.get("format") != INDEX_FORMAT:
        found = doc.get("format")
        raise MestiError(path, f"cache index format {found!r}; this version reads {INDEX_FORMAT}: re-run mesti prepare")
    if not index.complete and not allow_incomplete:
        raise MestiError(path, "the run that wrote this index was interrupted; re-run the same mesti prepare to finish it")
    return index
