"""Dataset adapters by name (``casme2``, ``samm``, ``smic``, ``casme3``, ``composite``, ``folder`` ...).

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
from mesti.utils.registry import Registry


class DatasetAdapter(Protocol):
    name: str

    @property
    def class_names(self) -> list[str]: ...

    @property
    def issues(self) -> list[str]: ...

    def records(self) -> list[ClipRecord]: ...


DATASETS: Registry[Callable[..., DatasetAdapter]] = Registry("dataset", "--dataset")

# The built-in adapters, each imported only when its name is first asked for: choosing
# ``casme2`` does not import the others.
for _name, _module in {
    "casme2": "mesti.datasets.casme2",
    "samm": "mesti.datasets.samm",
    "smic": "mesti.datasets.smic",
    "composite": "mesti.datasets.composite",
    "folder": "mesti.datasets.manifest",
    "images": "mesti.datasets.manifest",
    "samm-long": "mesti.datasets.samm_long",
    "casme-sq": "mesti.datasets.casme_sq",
    "casme3": "mesti.datasets.casme3",
    "long-manifest": "mesti.datasets.long_manifest",
}.items():
    DATASETS.register_lazy(_name, _module)


def register_dataset(name: str) -> Callable[[type], type]:
    """Class decorator: make an adapter available under ``name`` (CLI ``--dataset NAME``).

    A built-in adapter's module is also listed above, so that it loads on demand.
    """

    def deco(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        DATASETS.register(name, cls)
        return cls

    return deco


def list_datasets(pattern: str | None = None) -> list[str]:
    """Names of every dataset adapter, sorted; ``pattern`` filters with shell wildcards."""
    return DATASETS.list(pattern)


def dataset_summary(name: str) -> str:
    """The first line of an adapter's docstring: what ``mesti data list`` shows beside its name."""
    return DATASETS.describe(name)


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
    adapter = DATASETS.get(name)
    given = {k: v for k, v in (("sheet", sheet), ("classes", classes)) if v is not None}
    return adapter(Path(root), **given, **kwargs)
