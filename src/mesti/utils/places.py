"""Whether a place can be written, said before any work: names the file system cannot hold
(with the temporary sibling's affixes of an atomic write), folders nothing can be created in.

Shared by :mod:`mesti.utils.atomic` (the writes) and :mod:`mesti.utils.outputs` (the output
guard), so neither imports the other for it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mesti.errors import DISK_FULL, MestiError, from_os_error


@contextlib.contextmanager
def writable(final: Path) -> Iterator[None]:
    """A place that cannot be written (read-only, a file as parent) is bad input, said in one line."""
    try:
        yield
    except (FileExistsError, NotADirectoryError):
        raise MestiError(final, "cannot write here: a part of the path is a file, not a folder") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise (name_error(final) or from_os_error(exc, final)) from None
        if exc.errno in DISK_FULL:
            raise from_os_error(exc, final) from None
        raise MestiError(final, f"cannot write here ({exc.strerror or exc})") from None


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


def name_error(final: Path) -> MestiError | None:
    """A name the file system cannot hold, said as such, or ``None`` (an atomic write's
    temporary sibling shortens its own name to fit)."""
    limit = name_max(final)
    for part in final.parts[:-1]:
        size = len(os.fsencode(part))
        if size > limit:
            return MestiError(final, f"the folder name {part[:40]}... is {size} bytes long, too long for the file "
                                     f"system (at most {limit} bytes)")
    size = len(os.fsencode(final.name))
    if size > limit:
        return MestiError(final, f"the name is {size} bytes long, too long for the file system (at most {limit} bytes)")
    return None


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Refuse now, before any work, a destination that could not be written: a name too long
    for the file system, or a nearest existing folder in which nothing can be created
    (read-only, ``/proc``, no permission). Leaves nothing behind."""
    final = Path(path)
    ancestor = _ancestor(final)
    if not ancestor.is_dir():
        raise MestiError(final, f"cannot write here: {ancestor} is a file, not a folder")
    error = name_error(final)
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
    with writable(final):
        final.mkdir(parents=True, exist_ok=True)
    return final
