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

if TYPE_CHECKING:
    from mesti.utils.outputs import OutputKind


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
        if exc.errno == errno.ENAMETOOLONG:
            raise (_name_error(final, whole=True) or from_os_error(exc, final)) from None
        if exc.errno in DISK_FULL:
            raise from_os_error(exc, final) from None
        raise MestiError(final, f"cannot write here ({exc.strerror or exc})") from None


#: What :func:`atomic_path` and :func:`atomic_dir` add to a name for their temporary sibling
#: (``.NAME.`` + 8 random characters + ``.tmp``).
TEMP_AFFIXES = len("..") + 8 + len(".tmp")


def _ancestor(path: Path) -> Path:
    try:
        return next((p for p in (path, *path.parents) if p.exists()), Path("."))
    except OSError:  # a name too long to even look up
        return next((p for p in path.parents if len(os.fsencode(p.name)) <= 255 and p.exists()), Path("."))


def name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` (or its nearest existing parent) takes."""
    ancestor = _ancestor(folder)
    try:
        return int(os.pathconf(ancestor if ancestor.is_dir() else ancestor.parent, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def _name_error(final: Path, whole: bool) -> MestiError | None:
    """A name the file system cannot hold (counting the temporary sibling's affixes when
    ``whole``), said as such, or ``None``."""
    limit = name_max(final)
    for part in final.parts[:-1]:
        size = len(os.fsencode(part))
        if size > limit:
            return MestiError(final, f"the folder name {part[:40]}... is {size} bytes long, too long for the file "
                                     f"system (at most {limit} bytes)")
    size = len(os.fsencode(final.name))
    if size > limit:
        return MestiError(final, f"the name is {size} bytes long, too long for the file system (at most {limit} bytes)")
    if whole and size + TEMP_AFFIXES > limit:
        return MestiError(final, f"the name is {size} bytes long, too long: at most {limit - TEMP_AFFIXES} bytes, as mesti "
                                 f"writes it first as .NAME.XXXXXXXX.tmp beside it (the file system allows {limit})")
    return None


def check_writable(path: str | os.PathLike[str], *, whole: bool = False) -> Path:
    """Refuse now, before any work, a destination that could not be written: a name too long
    for the file system (with the temporary sibling's affixes when ``whole``: a file or folder
    written by :func:`atomic_path` / :func:`atomic_dir`), or a nearest existing folder in which
    nothing can be created (read-only, ``/proc``, no permission). Leaves nothing behind."""
    final = Path(path)
    ancestor = _ancestor(final)
    if not ancestor.is_dir():
        raise MestiError(final, f"cannot write here: {ancestor} is a file, not a folder")
    error = _name_error(final, whole)
    if error is not None:
        raise error
    if final.exists():
        return final
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mesti-probe-", dir=ancestor))
    except OSError as exc:
        raise MestiError(final, f"cannot write here: nothing can be created in {ancestor} "
                                f"({exc.strerror or exc})") from None
    return final


def make_folder(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p`` whose failure (read-only place, a file in the way) is one :class:`MestiError`."""
    final = Path(path)
    with _writable(final):
        final.mkdir(parents=True, exist_ok=True)
    return final


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
    with _writable(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_tmp_prefix(final), suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a shared cache must stay readable
    try:
        yield tmp
        with _writable(final):
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
        with _writable(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(final), suffix=".tmp", dir=final.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a dataset folder must stay readable
        try:
            yield tmp
            replaceable(final, kind, option)
            if final.exists():
                shutil.rmtree(final)
            with _writable(final):
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
