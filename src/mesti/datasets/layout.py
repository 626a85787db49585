"""Where a dataset's files are: its top folder, paths kept inside it, folders no sheet names.

Shared by the adapters and ``mesti data check`` so every dataset answers these questions
the same way.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from mesti.clips.io import natural_key
from mesti.errors import MestiError


def existing_folder(root: str | Path, what: str) -> Path:
    """``root`` as a Path, or :class:`MestiError` when it is not a folder (``what`` says what was expected)."""
    root = Path(root)
    if not root.is_dir():
        raise MestiError(root, f"no such folder (expected {what})")
    return root


def release_folder(root: Path, name: str) -> Path:
    """``root/name`` when the user gave the folder holding the release, else ``root`` itself.

    Users point at either level ("the folder holding SAMM/" or "SAMM/"); both must work.
    """
    inner = root / name
    return inner if inner.is_dir() else root


def resolve_inside(root: Path, relative: str, where: str) -> Path:
    """``root/relative``, refusing anything that could leave ``root``.

    Absolute paths (POSIX or Windows, drive letters, UNC), ``..`` components and symbolic
    links that lead outside ``root`` raise :class:`MestiError` naming ``where`` (a manifest
    row): a manifest is data, and data must not choose which files the program reads.
    """
    text = relative.strip()
    if not text:
        raise MestiError(where, "empty path")
    win = PureWindowsPath(text)
    if PurePosixPath(text).is_absolute() or win.is_absolute() or win.drive or win.root:
        raise MestiError(where, f"absolute path {text!r} refused: paths are relative to the dataset root")
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if ".." in parts:
        raise MestiError(where, f"path {text!r} refused: '..' would leave the dataset root")
    path = root.joinpath(*parts)
    real_root = root.resolve()
    if os.path.lexists(path) and not path.resolve().is_relative_to(real_root):
        raise MestiError(where, f"path {text!r} refused: it links outside the dataset root")
    return path


def extra_folders(top: Path, expected: Iterable[Path], ignore: Collection[str] = ()) -> list[Path]:
    """Folders under ``top`` beside the expected clip folders that the sheet does not name.

    Every folder on the way from ``top`` to an expected clip folder is listed; any child of
    one that is neither expected nor on the way to one is extra (a clip missing from the
    sheet, a renamed subject). Names in ``ignore`` and hidden folders are skipped.
    """
    wanted = set(expected)
    on_the_way: set[Path] = set()
    for clip in wanted:
        for parent in clip.parents:
            if parent != top and top not in parent.parents:
                break
            on_the_way.add(parent)
    extras: list[Path] = []
    for folder in on_the_way:
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            if child.name.startswith(".") or child.name in ignore or not child.is_dir():
                continue
            if child not in wanted and child not in on_the_way:
                extras.append(child)
    return sorted(extras, key=lambda p: natural_key(str(p)))


def adapter_extra_folders(adapter: Any) -> list[Path]:
    """Extra folders of any adapter: its own ``extra_folders()`` if it has one, else a scan.

    The scan starts at the adapter's ``data_root`` when it names one, else at the deepest
    folder holding every clip of its records.
    """
    own = getattr(adapter, "extra_folders", None)
    if callable(own):
        return list(own())
    dirs = [r.frame_dir for r in adapter.records() if r.kind == "frames"]
    if not dirs:
        return []
    top = getattr(adapter, "data_root", None) or Path(os.path.commonpath([str(d) for d in dirs]))
    if len(dirs) == 1 and top == dirs[0]:
        top = top.parent
    return extra_folders(Path(top), dirs)
