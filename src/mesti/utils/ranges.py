"""Numeric ranges, checked once for every door a value comes in by.

A seed, a frame rate or a network input size reaches mesti from the command line, a grid
file or the Python API. Each is declared here once, with its range, and checked where it
enters (the config or stream object that uses it), so all three doors refuse the same
values with the same one-line message, before any work. :class:`mesti.modalities.options.Option`
checks its numbers with the same function.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from mesti.errors import MestiError

_OPS = ((">", "gt", float.__gt__), (">=", "ge", float.__ge__), ("<", "lt", float.__lt__), ("<=", "le", float.__le__))


def number_text(value: float) -> str:
    """A bound as people write it: ``4294967295``, ``0.5``, ``1e-06``."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def bounds_text(gt: float | None = None, ge: float | None = None, lt: float | None = None,
                le: float | None = None) -> str:
    """``>= 0, <= 4294967295``: the bounds that are set, for messages and listings."""
    given = {"gt": gt, "ge": ge, "lt": lt, "le": le}
    return ", ".join(f"{op} {number_text(given[key])}" for op, key, _ in _OPS if given[key] is not None)


def check_number(value: Any, kind: type, name: str, where: str, *, gt: float | None = None, ge: float | None = None,
                 lt: float | None = None, le: float | None = None) -> Any:
    """``value`` as ``kind`` (``int`` or ``float``), finite and within the bounds, or a
    :class:`MestiError` at ``where`` saying ``<name> must be ...``. Booleans are not numbers
    here; numpy numbers are."""
    label = kind.__name__
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MestiError(where, f"{name} must be {'an' if label[0] in 'aeiou' else 'a'} {label}, got {value!r}")
    if kind is int and not (math.isfinite(float(value)) and float(value).is_integer()):
        raise MestiError(where, f"{name} must be an int, got {value!r}")
    value = kind(value)
    if not math.isfinite(value):
        raise MestiError(where, f"{name} must be finite, got {value!r}")
    given = {"gt": gt, "ge": ge, "lt": lt, "le": le}
    for op, key, holds in _OPS:
        bound = given[key]
        if bound is not None and not holds(float(value), float(bound)):
            raise MestiError(where, f"{name} must be {op} {number_text(bound)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Range:
    """A number every entry point shares: ``option`` is the flag that gives it on the command line
    (what a message names unless the caller names another place), ``name`` what it is."""

    option: str
    name: str
    kind: type
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    why: str = ""

    def check(self, value: Any, where: str | None = None) -> Any:
        """``value`` converted and checked; a :class:`MestiError` at ``where`` (default: the option)."""
        try:
            return check_number(value, self.kind, self.name, where or self.option,
                                gt=self.gt, ge=self.ge, lt=self.lt, le=self.le)
        except MestiError as exc:
            raise MestiError(exc.where, exc.what + (f" ({self.why})" if self.why else "")) from None

    def describe(self) -> str:
        return bounds_text(self.gt, self.ge, self.lt, self.le)


#: numpy, scikit-learn and torch all take it; scikit-learn's random_state stops at 2**32 - 1.
SEED = Range("--seed", "the seed", int, ge=0, le=2**32 - 1, why="a seed is an integer in 0..4294967295")
#: A frame rate: positive and finite (SAMM records at 200 fps; 10000 is far beyond any camera used for faces).
FPS = Range("--fps", "the frame rate", float, gt=0, le=10_000)
#: The network input side in pixels (a 4096 x 4096 input already needs gigabytes per batch).
IMG_SIZE = Range("--img-size", "the network input size", int, ge=8, le=4096, why="in pixels")
