"""Spotting methods by name (``mesti spot VIDEO --method NAME``, ``mesti spot list``).

A method is a class registered with :func:`register_spotter`, built as ``Method(**options)``,
with ``spot(stream, progress=None) -> SpotResult``; its first docstring line is its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mesti.clips.stream import FrameStream
from mesti.errors import MestiError
from mesti.spotting.result import ProgressFn, SpotResult


class Spotter(Protocol):
    name: str

    def spot(self, stream: FrameStream, progress: ProgressFn | None = None) -> SpotResult: ...


_SPOTTERS: dict[str, type] = {}


def register_spotter(name: str) -> Callable[[type], type]:
    """Class decorator: make a spotting method available under ``name``."""

    def deco(cls: type) -> type:
        if name in _SPOTTERS:
            raise ValueError(f"spotting method {name!r} is already registered")
        cls.name = name  # type: ignore[attr-defined]
        _SPOTTERS[name] = cls
        return cls

    return deco


def _load() -> None:
    from mesti.spotting import flow, learned, lbp, naive  # noqa: F401  (each registers itself)


def list_spotters() -> list[str]:
    _load()
    return sorted(_SPOTTERS)


def spotter_summary(name: str) -> str:
    _load()
    return (_SPOTTERS[name].__doc__ or "").strip().splitlines()[0]


def create_spotter(name: str, **options: Any) -> Spotter:
    """The method ``name`` with its ``options`` (see each method's docstring)."""
    _load()
    if name not in _SPOTTERS:
        raise MestiError("--method", f"unknown spotting method {name!r}; choose one of {', '.join(sorted(_SPOTTERS))}")
    try:
        return _SPOTTERS[name](**options)
    except TypeError as exc:
        raise MestiError("--method", f"{name}: {exc}") from None
