"""Atomic writes: a file appears complete under its final name, or not at all.

Everything the project writes for a user (arrays, pictures, metrics, caches) goes through
here, so an interrupted run never leaves a file that looks finished but is not.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mesti.errors import MestiError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _writable(final: Path) -> Iterator[None]:
    """A place that cannot be written (read-only, a file as parent) is bad input, said in one line."""
    try:
        yield
    except (FileExistsError, NotADirectoryError):
        raise MestiError(final, "cannot write here: a part of the path is a file, not a folder") from None
    except OSError as exc:
        raise MestiError(final, f"cannot write here ({exc.strerror or exc})") from None


def make_folder(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p`` whose failure (read-only place, a file in the way) is one :class:`MestiError`."""
    final = Path(path)
    with _writable(final):
        final.mkdir(parents=True, exist_ok=True)
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    with _writable(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a shared cache must stay readable
    try:
        yield tmp
        with _writable(final):
            os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (fsync'd before the rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_npy(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write one array in ``.npy`` format atomically."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    Used for outputs made of many files (a dataset, an encoder contact sheet): a failure
    half-way leaves no folder at ``path``.
    """
    final = Path(path)
    with _writable(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a dataset folder must stay readable
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
