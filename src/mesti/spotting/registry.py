"""Spotting methods by name (``mesti spot VIDEO --method NAME``, ``mesti spot list``).

A method is a class registered with :func:`register_spotter`, built as ``Method(**options)``,
with ``spot(stream, progress=None) -> SpotResult``; its first docstring line is its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mesti.clips.stream import FrameStream
from mesti.spotting.result import ProgressFn, SpotResult
from mesti.utils.registry import Registry


class Spotter(Protocol):
    name: str

    def spot(self, stream: FrameStream, progress: ProgressFn | None = None) -> SpotResult: ...


SPOTTERS: Registry[type] = Registry("spotting method", "--method")
for _name in ("flow", "lbp", "naive", "learned"):  # each module registers itself when first asked for
    SPOTTERS.register_lazy(_name, f"mesti.spotting.{_name}")


def register_spotter(name: str) -> Callable[[type], type]:
    """Class decorator: make a spotting method available under ``name``."""

    def deco(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        SPOTTERS.register(name, cls)
        return cls

    return deco


def list_spotters() -> list[str]:
    return SPOTTERS.list()


def spotter_summary(name: str) -> str:
    return SPOTTERS.describe(name)


def create_spotter(name: str, **options: Any) -> Spotter:
    """The method ``name`` with its ``options`` (see each method's docstring)."""
    return SPOTTERS.create(name, **options)
