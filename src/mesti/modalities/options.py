"""A modality's options, declared one by one: name, type, default, allowed values, help.

Declaring them (instead of reading an encoder's signature) keeps arguments that are fixed
by the modality's name out of reach (``flow_onset_apex`` cannot be told ``which``), gives
``mesti modalities`` something to show, and validates every option in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mesti.errors import MestiError
from mesti.utils.ranges import bounds_text, check_number


@dataclass(frozen=True)
class Option:
    """One keyword option of an encoder.

    ``type`` is ``str``, ``int``, ``float``, ``bool`` or a dataclass (given as an instance
    or a mapping of its fields); ``choices`` limits a value to a set; ``gt``/``ge``/``le``
    bound a number. A ``None`` default means "the encoder's own settings" and ``None`` is
    then accepted.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    gt: float | None = None
    ge: float | None = None
    le: float | None = None

    def describe(self) -> str:
        """``name: type = default`` and what it allows, for listings."""
        allowed = f" ({' | '.join(map(str, self.choices))})" if self.choices else self._bounds()
        return f"{self.name}: {self.type.__name__} = {self.default!r}{allowed}"

    def _bounds(self) -> str:
        text = bounds_text(gt=self.gt, ge=self.ge, le=self.le)
        return f" ({text})" if text else ""

    def check(self, value: Any, owner: str) -> Any:
        """``value`` converted to this option's type, or a :class:`MestiError` naming ``owner``."""
        if value is None and self.default is None:
            return None
        value = self._convert(value, owner)
        if self.choices and value not in self.choices:
            raise MestiError(owner, f"unknown {self.name} {value!r}; choose one of {', '.join(map(str, self.choices))}")
        if self.type in (int, float):
            value = check_number(value, self.type, self.name, owner, gt=self.gt, ge=self.ge, le=self.le)
        return value

    def _convert(self, value: Any, owner: str) -> Any:
        kind = self.type.__name__
        wrong = MestiError(owner, f"{self.name} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {value!r}")
        if dataclasses.is_dataclass(self.type):
            if isinstance(value, self.type):
                return value
            if isinstance(value, Mapping):
                try:
                    return self.type(**value)
                except TypeError as exc:
                    raise MestiError(owner, f"{self.name}: {exc}") from None
            raise wrong
        if self.type is bool:
            if isinstance(value, bool):
                return value
            raise wrong
        if self.type in (int, float):
            return check_number(value, self.type, self.name, owner)  # numpy numbers too; the bounds come after choices
        if not isinstance(value, self.type):
            raise wrong
        return value


def resolve_options(owner: str, declared: Sequence[Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared option with its value: the checked given ones over the defaults.

    An option that is not declared is refused with the list of those that are.
    """
    by_name = {o.name: o for o in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        takes = ", ".join(by_name) or "none"
        raise MestiError(owner, f"unknown option(s) {', '.join(unknown)}; it takes {takes}")
    return {name: (opt.check(given[name], owner) if name in given else opt.default) for name, opt in by_name.items()}
