"""Atomic writes: a file appears complete under its final name, or not at all.

Everything the project writes for a user (arrays, pictures, metrics, caches) goes through
here, so an interrupted run never leaves a file that looks finished but is not.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mesti.errors import DISK_FULL, MestiError, from_os_error
from mesti.utils.places import writable

if TYPE_CHECKING:
    from mesti.utils.outputs import OutputKind


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tmp_prefix(final: Path) -> str:
    """``.<name>.`` for a temporary sibling, the name shortened so that the prefix, mkstemp's
    8 random characters and ``.tmp`` fit in one file name: a valid name near the file
    system's limit must not fail only when the finished work is put in place."""
    name = os.fsencode(final.name)[:200].decode("utf-8", "ignore")
    return f".{name}."


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    final = Path(path)
    with writable(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_tmp_prefix(final), suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a shared cache must stay readable
    try:
        yield tmp
        with writable(final):
            os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in DISK_FULL:  # a full disk while writing is said in one line, naming the file
            raise from_os_error(exc, final) from None
        raise
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
def atomic_dir(path: str | os.PathLike[str], kind: OutputKind, *, option: str = "--out") -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    Used for outputs made of many files (a dataset, a bundle, an analysis): a failure
    half-way leaves no folder at ``path``. Only a missing or empty folder or a mesti
    ``kind`` is ever replaced (:mod:`mesti.utils.outputs`, checked before and again at the
    end), and ``path`` is locked for this writer meanwhile.
    """
    from mesti.utils.outputs import output_scope, prepare_output_dir, replaceable

    final = Path(os.path.abspath(path))
    with output_scope():
        prepare_output_dir(final, kind, option=option)
        with writable(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(final), suffix=".tmp", dir=final.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a dataset folder must stay readable
        try:
            yield tmp
            replaceable(final, kind, option)
            if final.exists():
                shutil.rmtree(final)
            with writable(final):
                os.replace(tmp, final)
        except MestiError as exc:  # name the file where the user will look for it, not the removed temporary one
            shutil.rmtree(tmp, ignore_errors=True)
            if str(tmp) not in exc.where + exc.what:
                raise
            raise MestiError(exc.where.replace(str(tmp), str(final)), exc.what.replace(str(tmp), str(final))) from None
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno in DISK_FULL:
                raise from_os_error(exc, final) from None
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
