"""Cache keys: a hash of everything that decides a cached image's pixels, and nothing else.

An entry's key covers (1) the clip's identity and frame files, (2) its onset/apex/offset,
(3) the preprocessing fingerprint, (4) the encoder's name, full options and code version.
Labels, subjects and class sets are not in it: they change no pixel, so switching from
5 to 3 classes reuses every image (the index carries the labels and is rewritten each run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mesti.datasets.base import ClipRecord
from mesti.errors import MestiError
from mesti.modalities import get_modality

#: Bump when the cache layout or key recipe changes; every old entry then misses.
CACHE_FORMAT = "1"

#: ``stat``: frame file names, sizes and modification times (fast, catches re-extracted or
#: edited frames); ``content``: a hash of every frame file's bytes (reads the whole dataset).
FRAME_CHECKS = ("stat", "content")


def _json_default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__name__, **dataclasses.asdict(obj)}
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"cannot put {type(obj).__name__} into a cache key")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal settings give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (dataclass options become dicts), for indexes and reports."""
    return json.loads(canonical_json(obj))


def digest(obj: Any) -> str:
    """SHA-256 of :func:`canonical_json`, as hex."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def encoder_options(modality: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every option the encoder will run with: the given ones over its defaults.

    Filling defaults makes ``scale='minmax'`` and "no option" one key, and a changed default
    a new key even if someone forgets to bump the encoder's version.
    """
    return get_modality(modality).check_options(dict(options or {}))


def encoder_fingerprint(modality: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What identifies an encoder's output: name, code version and full options."""
    return {"name": modality, "version": get_modality(modality).version, "options": encoder_options(modality, options)}


def frames_fingerprint(record: ClipRecord, check: str = "stat") -> str:
    """Digest of the clip's frame files onset..offset; :class:`MestiError` if one is missing.

    File names (not folders) go in, so moving the dataset root keeps the cache valid; the
    record's key is added by :func:`entry_key`, so equal file names in two clips never meet.
    """
    if check not in FRAME_CHECKS:
        raise MestiError("--verify-frames", f"unknown check {check!r}; choose one of {', '.join(FRAME_CHECKS)}")
    h = hashlib.sha256(check.encode())
    missing: list[str] = []
    for path in record.frame_paths():
        try:
            st = path.stat()
        except FileNotFoundError:
            missing.append(path.name)
            continue
        h.update(path.name.encode("utf-8") + b"\0")
        if check == "stat":
            h.update(f"{st.st_size}:{st.st_mtime_ns}\0".encode())
        else:
            with open(path, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise MestiError(record.key, f"missing frame(s) in {record.frame_dir}: {', '.join(missing[:3])}{more}")
    return h.hexdigest()


def annotation_fingerprint(record: ClipRecord) -> dict[str, Any]:
    """The annotation fields that move pixels: which frames and where the apex is."""
    return {
        "onset": record.onset_frame,
        "apex": record.apex_frame,
        "offset": record.offset_frame,
        "pattern": record.frame_pattern,
    }


def entry_key(record: ClipRecord, frames: str, preprocess: str, encoder: Mapping[str, Any]) -> str:
    """The file stem of one clip's image under one encoder: 32 hex digits."""
    return digest({
        "format": CACHE_FORMAT,
        "clip": record.key,
        "frames": frames,
        "annotation": annotation_fingerprint(record),
        "preprocess": preprocess,
        "encoder": encoder,
    })[:32]
