"""Spotting methods by name (``mesti spot VIDEO --method NAME``, ``mesti spot list``).

A method is a class registered with :func:`register_spotter`, built as ``Method(**options)``,
with ``spot(stream, hooks=None) -> SpotResult`` (frames done as the stage ``spot``); its first
docstring line is its summary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mesti.clips.stream import FrameStream
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks
from mesti.utils.registry import Registry


class Spotter(Protocol):
    name: str

    def spot(self, stream: FrameStream, hooks: Hooks | None = None) -> SpotResult: ...


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


def too_short(spotter: Any, stream: FrameStream) -> str | None:
    """Why ``stream`` is too short for ``spotter`` to spot anything, or ``None``.

    A method that compares frames ``lag_seconds`` apart (``flow``, ``learned``) measures no
    motion in a video shorter than that lag: it would report "nothing spotted" whatever the
    video holds. A wrong ``--fps`` (200 for a 30 fps video) shortens the lag in frames' terms
    the other way, so the message asks about it too.
    """
    lag = getattr(spotter, "lag_seconds", None)
    if lag is None:
        return None
    needed = max(int(round(lag * stream.fps)), 1) + 2
    if stream.count >= needed:
        return None
    return (f"the video holds {stream.count} frames ({stream.count / stream.fps:.2f} s at {stream.fps:g} fps), fewer than "
            f"the {needed} the {spotter.name} method needs (it compares frames {lag:g} s apart): it is too short for the "
            "method, which could spot nothing in it (is --fps right?)")


def spot_stream(spotter: Spotter, stream: FrameStream, hooks: Hooks | None = None) -> SpotResult:
    """``spotter.spot(stream)``, its result noting a video that decoded short (truncated file):
    truth past the readable end cannot be spotted, and the user must know why."""
    result = spotter.spot(stream, hooks=hooks)
    short = stream.truncation()
    if short is not None:
        result.notes.append(f"{short}; nothing after frame {result.frames - 1} was spotted")
    return result
