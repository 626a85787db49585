"""One registry for everything chosen by name: models, modalities, datasets, protocols,
losses and optimisers.

A :class:`Registry` maps names to objects (constructors, classes, specs). Each kind keeps
its own public functions (``create_model``, ``get_modality`` ...), built on this one so that
listing, describing and an unknown name behave the same everywhere: the error names the
option that took the name (``--model``, ``training.loss``) and lists the valid names.

Entries may be *lazy*: a name mapped to the module that registers it, imported the first
time the name is asked for, so choosing one dataset adapter does not import the others.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, overload

from mesti.errors import MestiError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to objects of one kind.

    Args:
        kind: what an entry is, for messages (``"model"``).
        flag: the option or config key that takes the name (``"--model"``); the ``where`` of
            the error for an unknown name.
    """

    def __init__(self, kind: str, flag: str) -> None:
        self.kind = kind
        self.flag = flag
        self._entries: dict[str, T] = {}
        self._descriptions: dict[str, str] = {}
        self._lazy: dict[str, str] = {}

    @overload
    def register(self, name: str, obj: T, *, description: str | None = None) -> T: ...

    @overload
    def register(self, name: str, obj: None = None, *, description: str | None = None) -> Callable[[T], T]: ...

    def register(self, name: str, obj: T | None = None, *, description: str | None = None) -> T | Callable[[T], T]:
        """Add ``obj`` under ``name``; without ``obj``, a decorator that adds what it wraps.

        A name is registered once (a second registration is a programming error).
        ``description`` defaults to the first line of the object's docstring.
        """

        def add(item: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = item
            if description is not None:
                self._descriptions[name] = description
            return item

        return add if obj is None else add(obj)

    def register_lazy(self, name: str, module: str) -> None:
        """Declare that importing ``module`` registers ``name``; the import waits for first use."""
        if name in self._entries or name in self._lazy:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._lazy[name] = module

    def list(self, pattern: str | None = None) -> list[str]:
        """Every name, sorted; ``pattern`` keeps those matching shell wildcards (``"flow_*"``)."""
        names = sorted(set(self._entries) | set(self._lazy))
        return [n for n in names if fnmatch.fnmatchcase(n, pattern)] if pattern else names

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries or name in self._lazy
        except TypeError:  # an unhashable value is no name
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def get(self, name: str) -> T:
        """The object registered as ``name``; an unknown name is a :class:`MestiError`."""
        if name not in self:
            raise self.unknown(name)
        if name not in self._entries:
            importlib.import_module(self._lazy[name])
            if name not in self._entries:
                raise RuntimeError(f"module {self._lazy[name]} did not register {self.kind} {name!r}")
        return self._entries[name]

    def unknown(self, name: object) -> MestiError:
        """The one error for a name that is not registered."""
        return MestiError(self.flag, f"unknown {self.kind} {name!r}; choose one of {', '.join(self.list())}")

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the entry ``name`` (a constructor or class) with the given arguments.

        Options the constructor does not take are a :class:`MestiError` naming the entry.
        """
        factory = self.get(name)
        signature = inspect.signature(factory)
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            unknown = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
            takes = ", ".join(p.name for p in list(signature.parameters.values())[len(args):]
                              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)) or "none"
            what = f"takes no option {unknown.group(1)!r}" if unknown else f"cannot take these arguments ({exc})"
            raise MestiError(f"{self.kind} {name}", f"{what}; it takes {takes}") from None
        return factory(*args, **kwargs)

    def describe(self, name: str) -> str:
        """One line on what ``name`` is: its registered description or its docstring's first line."""
        obj = self.get(name)
        if name in self._descriptions:
            return self._descriptions[name]
        doc = (getattr(obj, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""
