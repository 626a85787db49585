"""Dataset adapters by name (``casme2``, ``samm``, ``smic``, ``composite``, ``folder`` ...).

An adapter is a class registered with :func:`register_dataset`. It is built as
``Adapter(root, sheet=None, classes=5, **extra)`` and gives:

- ``records() -> list[ClipRecord]``: every clip of the sheet in sheet order, with ``label``
  set to the class under ``classes`` or ``None`` when the clip is outside that class set;
- ``class_names -> list[str]``: the classes in label-index order;
- ``issues -> list[str]``: sheet quirks it handled (shown to users by ``mesti data check``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from mesti.datasets.base import ClipRecord
from mesti.errors import MestiError


class DatasetAdapter(Protocol):
    name: str

    @property
    def class_names(self) -> list[str]: ...

    @property
    def issues(self) -> list[str]: ...

    def records(self) -> list[ClipRecord]: ...


_ADAPTERS: dict[str, Callable[..., DatasetAdapter]] = {}


def register_dataset(name: str) -> Callable[[type], type]:
    """Class decorator: make an adapter available under ``name`` (CLI ``--dataset NAME``)."""

    def deco(cls: type) -> type:
        if name in _ADAPTERS:
            raise ValueError(f"dataset {name!r} is already registered")
        cls.name = name  # type: ignore[attr-defined]
        _ADAPTERS[name] = cls
        return cls

    return deco


def list_datasets() -> list[str]:
    """Names of every registered dataset adapter."""
    _load_builtin()
    return sorted(_ADAPTERS)


def dataset_summary(name: str) -> str:
    """The first line of an adapter's docstring: what ``mesti data list`` shows beside its name."""
    _load_builtin()
    if name not in _ADAPTERS:
        raise MestiError("--dataset", f"unknown dataset {name!r}; choose one of {', '.join(sorted(_ADAPTERS))}")
    doc = (_ADAPTERS[name].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def create_dataset(
    name: str,
    root: str | Path,
    *,
    sheet: str | Path | None = None,
    classes: int | None = None,
    **kwargs: Any,
) -> DatasetAdapter:
    """Build the adapter ``name`` over the folder ``root`` as distributed.

    ``sheet`` and ``classes`` left as ``None`` keep the adapter's own defaults (its sheet
    inside the root, its usual class set), so callers can pass CLI options straight through.
    """
    _load_builtin()
    if name not in _ADAPTERS:
        raise MestiError("--dataset", f"unknown dataset {name!r}; choose one of {', '.join(sorted(_ADAPTERS))}")
    given = {k: v for k, v in (("sheet", sheet), ("classes", classes)) if v is not None}
    return _ADAPTERS[name](Path(root), **given, **kwargs)


def _load_builtin() -> None:
    """Import the built-in adapter modules (each registers itself on import)."""
    import importlib
    import pkgutil

    import mesti.datasets as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in {"base", "registry"}:
            importlib.import_module(f"mesti.datasets.{mod.name}")
