"""Which folders mesti may write into or replace, and one writer per folder at a time.

``--overwrite`` deletes a folder, so it may only delete one that is recognisably a mesti
output of the kind the command makes (a run, a synthetic dataset, a cache, a grid); a folder
holding anything else is refused, never emptied. The same check stops a command from
scattering its files among someone else's.

Every folder that passes the check is also locked for its writer: two commands writing the
same run, bundle or analysis at once would mix or replace each other's files, so the second
is refused with one line naming the first (its pid and command). The lock is an ``flock`` on
a small file beside the folder (``.<name>.mesti-lock``, inside the folder only where its
parent cannot be written); the kernel drops it when its process dies, however it dies, so a
lock is never stale. A lock lasts until the end of the enclosing :func:`output_scope` (each
CLI command is one; so are the library functions that write), else until the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from mesti.errors import MestiError
from mesti.utils.places import check_writable, name_error, name_max

try:
    import fcntl
except ImportError:  # not on a POSIX system: no locks, every other check still holds
    fcntl = None  # type: ignore[assignment]

OutputKind = Literal["run", "synthetic dataset", "cache", "grid", "spotting result", "spotting evaluation", "analysis",
                     "bundle", "encodings folder", "demo"]

#: A run's resolved configuration (with ``mesti_version``) beside its ``folds/`` folder.
RUN_CONFIG = "config.yaml"
RUN_FOLDS = "folds"
#: Written by ``mesti synth`` into every dataset it makes (``synth_long.json`` with ``--long``).
SYNTH_MARKER = "synth.json"
SYNTH_LONG_MARKER = "synth_long.json"
#: Written by ``mesti prepare`` at the top of a cache (first, so an interrupted first run is
#: still recognised); each modality folder has an index.
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
#: ``mesti encode --all`` writes every modality and this contact sheet.
ENCODINGS_MARKER = "contact_sheet.png"
#: ``mesti demo`` writes this first into its folder; its steps go to the folders named below.
DEMO_MARKER = "demo.json"
DEMO_PARTS = ("data", "cache", "grid", "model", "long", "analysis")
#: The lock file's ending (``.<name>.mesti-lock`` beside a folder, ``.mesti-lock`` inside one).
LOCK_SUFFIX = "mesti-lock"


def _is_lock(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(LOCK_SUFFIX)


def _entries(path: Path) -> list[Path]:
    """What a folder holds, without the lock files of this folder or of outputs inside it."""
    return [p for p in path.iterdir() if not _is_lock(p)]


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
    seeds = [p for p in _entries(path) if p.name not in (RUN_CONFIG, RUN_FOLDS)]
    return bool(seeds) and all(re.fullmatch(r"seed-\d+", p.name) and p.is_dir() and _is_run(p) for p in seeds)


def _is_old_demo(path: Path) -> bool:
    """A demo folder written before the demo left its mark: only the demo's parts, among them
    its synthetic data and its grid."""
    names = {p.name for p in _entries(path)}
    return (bool(names) and names <= set(DEMO_PARTS) and "grid" in names
            and output_kind(path / "data") == "synthetic dataset" and output_kind(path / "grid") == "grid")


def output_kind(path: str | Path) -> OutputKind | None:
    """What mesti output ``path`` is, by its marks, or ``None`` (not one, or not a folder)."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / DEMO_MARKER).is_file() or _is_old_demo(path):
        return "demo"
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
    if (path / ENCODINGS_MARKER).is_file() and any(path.glob("*.npy")):
        return "encodings folder"
    if (path / GRID_MARKER).is_file() or any(_is_run(c.parent) for c in path.glob(f"*/*/*/*/{RUN_CONFIG}")):
        return "grid"
    return None


def check_place(path: str | Path, option: str = "--out") -> Path:
    """The checks that need no lock: every name short enough for the file system (checked now,
    not after hours of work), not a file, a parent that is a folder in which something can be
    created."""
    path = Path(path)
    error = name_error(path)  # first: looking up a name the file system cannot hold is itself an error
    if error is not None:
        raise MestiError(f"{option} {path.name[:40]}...", f"{error.what}: give {option} a shorter one")
    if path.exists() and not path.is_dir():
        raise MestiError(path, f"exists and is not a folder; give {option} a folder")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise MestiError(path, f"cannot write here: {parent} is a file, not a folder")
    if not path.exists() and (parent is None or not os.access(parent, os.W_OK | os.X_OK)):
        raise MestiError(path, f"cannot write here: {parent} is not a writable folder")
    return check_writable(path)


def prepare_output_dir(path: str | Path, kind: OutputKind, *, overwrite: bool = False, option: str = "--out",
                       lock: bool = True, wait: Callable[[str], None] | None = None) -> Path:
    """Check ``path`` before ``kind`` is written there, lock it for this writer, and with
    ``overwrite`` remove an earlier one.

    Accepted: a missing or empty folder, or a folder that is a mesti ``kind`` (resumed, or
    replaced with ``overwrite``). Refused with :class:`MestiError`: a file, a folder whose
    parent cannot be written, any non-empty folder that is not a ``kind``, and a folder
    another process is writing (``wait``: wait for it instead, called once with who holds
    it); nothing is deleted then. ``lock=False`` only checks.
    """
    path = check_place(path, option)
    token = lock_output(path, option=option, wait=wait) if lock else None
    try:
        if not path.exists() or not _entries(path):
            return path
        found = output_kind(path)
        if found != kind:
            what = f"a mesti {found}" if found else "files that are not a mesti output"
            raise MestiError(path, f"holds {what}, not a mesti {kind}; refusing to overwrite it or write into it: "
                                   f"choose another {option}")
        if overwrite:
            for entry in _entries(path):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        return path
    except BaseException:
        _undo(token)
        raise


def prepare_new_dir(path: str | Path, kind: OutputKind, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Check ``path`` for an output written whole (``atomic_dir`` puts the finished folder in
    place) and lock it: a non-empty folder is replaced only with ``overwrite``, and only when
    it is a mesti ``kind``; nothing is removed here, so a failed run leaves the old folder as
    it was."""
    path = check_place(path, option)
    if path.is_symlink():
        raise MestiError(path, f"is a symbolic link; give {option} the folder itself")
    if path.is_dir() and _entries(path) and not overwrite:
        raise MestiError(path, f"the folder is not empty; pass --overwrite to replace a mesti {kind} there")
    return prepare_output_dir(path, kind, option=option)


def replaceable(path: str | Path, kind: OutputKind, option: str = "--out") -> None:
    """Refuse to replace ``path`` unless it is missing, empty or a mesti ``kind``: checked
    again just before an atomic output replaces it, so files put there during a long run are
    never deleted."""
    path = Path(path)
    if path.is_symlink():
        raise MestiError(path, f"is a symbolic link; give {option} the folder itself")
    if path.exists() and (not path.is_dir() or (_entries(path) and output_kind(path) != kind)):
        raise MestiError(path, f"now holds files that are not a mesti {kind} (put there while this ran); nothing "
                               f"was replaced: move them away and run again, or choose another {option}")


# ---- locks ---------------------------------------------------------------------------------


@dataclass
class _Held:
    fd: int
    count: int
    pid: int  # a forked child inherits this table, not the lock's ownership


_HELD: dict[Path, _Held] = {}
_MUTEX = threading.RLock()
_LOCAL = threading.local()


def lock_file(path: str | Path) -> Path:
    """Where the lock of output folder ``path`` lives: beside it in its parent (an atomic
    replace of the folder leaves it alone); inside it when only the folder can be written."""
    path = Path(path).resolve()
    parent = path.parent
    if not os.access(parent, os.W_OK | os.X_OK) and path.is_dir() and os.access(path, os.W_OK | os.X_OK):
        return path / f".{LOCK_SUFFIX}"
    name = f".{path.name}.{LOCK_SUFFIX}"
    if len(os.fsencode(name)) > name_max(parent):
        import hashlib

        name = f".{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:32]}.{LOCK_SUFFIX}"
    return parent / name


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 400, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text.splitlines()[0] if text else "unknown"


def _ours(fd: int) -> bool:
    """Empty, or the text a mesti lock holds (a stale one: its process died)."""
    try:
        text = os.pread(fd, 64, 0)
    except OSError:
        return False
    return not text or re.match(rb"\d+: ", text) is not None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _acquire(file: Path, path: Path, option: str, wait: Callable[[str], None] | None) -> int:
    """An exclusive flock on ``file`` that is still the file at that name (a releasing holder
    unlinks it while still holding it, so a lock taken on the unlinked file is dropped and taken
    again); its text says who holds it."""
    said = False
    for _ in range(1_000_000):
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise MestiError(path, f"cannot write here ({exc.strerror or exc})") from None
        if not _try_lock(fd):
            holder = _holder(fd)
            os.close(fd)
            if wait is None:
                raise MestiError(path, f"another mesti process is writing here (pid {holder}); wait for it to end "
                                       f"or choose another {option}") from None
            if not said:
                wait(holder)
                said = True
            time.sleep(0.5)
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(file).st_ino
        except FileNotFoundError:
            same = False
        if same and not _ours(fd):
            os.close(fd)  # someone's own file of that name: neither written nor removed
            raise MestiError(file, f"is in the way of the lock of {path.name}, and mesti did not write it; move it "
                                   f"away or choose another {option}")
        if same:
            argv0 = Path(sys.argv[0]) if sys.argv else Path("python")
            ours = argv0.stem == "mesti" or argv0.parent.name == "mesti"
            command = " ".join(["mesti" if ours else "python" if argv0.name == "-c" else argv0.name, *sys.argv[1:]])
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}: {command[:300]}\n".encode("utf-8", "replace"), 0)
            return fd
        os.close(fd)
    raise MestiError(path, f"cannot lock {file}: it keeps being replaced")


def lock_output(path: str | Path, *, option: str = "--out", wait: Callable[[str], None] | None = None) -> Path | None:
    """Lock output folder ``path`` for this process (again, if it holds it already) until the
    end of the current :func:`output_scope`; returns the lock file, or ``None`` where nothing
    was locked (no flock, or the caller's process holds it: :func:`locked_by_caller`)."""
    if fcntl is None or getattr(_LOCAL, "delegated", 0):
        return None
    path = Path(path)
    file = lock_file(path)
    with _MUTEX:
        held = _HELD.get(file)
        if held is not None:
            held.count += 1
        else:
            _HELD[file] = _Held(_acquire(file, path, option, wait), 1, os.getpid())
    scopes = getattr(_LOCAL, "scopes", None)
    if scopes:
        scopes[-1].append(file)
    return file


def _release(file: Path) -> None:
    with _MUTEX:
        held = _HELD.get(file)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _HELD[file]
        if held.pid == os.getpid():  # never a parent's lock file from a forked child
            with contextlib.suppress(OSError):
                os.unlink(file)  # while still locked: see _acquire
        os.close(held.fd)


def _undo(token: Path | None) -> None:
    """Give back one acquisition that failed its checks."""
    if token is None:
        return
    scopes = getattr(_LOCAL, "scopes", None)
    if scopes and token in scopes[-1]:
        scopes[-1].remove(token)
    _release(token)


@contextlib.contextmanager
def output_scope() -> Iterator[None]:
    """Locks taken inside are given back at its end (usable as a decorator: ``@output_scope()``)."""
    scopes = _LOCAL.__dict__.setdefault("scopes", [])
    scopes.append([])
    try:
        yield
    finally:
        for file in scopes.pop():
            _release(file)


@contextlib.contextmanager
def locked_by_caller() -> Iterator[None]:
    """Code run for another process that holds the locks of what it writes (a Ray task for
    its driver) takes none itself: its folds would otherwise be refused as a second writer."""
    _LOCAL.delegated = getattr(_LOCAL, "delegated", 0) + 1
    try:
        yield
    finally:
        _LOCAL.delegated -= 1


def _release_all() -> None:
    """At exit: remove this process's lock files (the kernel would drop the locks anyway)."""
    with _MUTEX:
        for file, held in list(_HELD.items()):
            if held.pid == os.getpid():
                held.count = 1
                _release(file)


atexit.register(_release_all)
