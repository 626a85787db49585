"""Types of the options a user writes in YAML, checked against the dataclass that takes them.

YAML gives ``"false"`` (quoted) as text, and Python reads any non-empty text as true, so
``report_oracle: "false"`` would switch the option on; ``seeds: "0,1"`` or ``epochs: 2.5``
would fail later with a traceback or be truncated. Every option is checked against its
annotation before it is used: booleans must be ``true``/``false``, whole numbers whole.
"""

from __future__ import annotations

import numbers
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from mesti.errors import MestiError

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NO_DOT_EXPONENT = re.compile(r"[+-]?\d+[eE][+-]?\d+")


def _fits(value: Any, tp: Any) -> bool:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is Literal:
        return value in args
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args else Any
        return all(_fits(v, item) for v in value)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            return False
        key, val = args if len(args) == 2 else (Any, Any)
        return all(_fits(k, key) and _fits(v, val) for k, v in value.items())
    return True  # a type this checker does not know: left to the dataclass


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(dict.fromkeys("null" if a is type(None) else _describe(a) for a in args))
    names = {bool: "true or false (unquoted)", int: "a whole number", float: "a number", str: "text"}
    if tp in names:
        return names[tp]
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if origin in (list, tuple):
        plural = {bool: "true/false values", int: "whole numbers", float: "numbers", str: "texts"}
        return f"a list of {plural.get(args[0], _describe(args[0]))}" if args else "a list"
    if origin in (dict, Mapping):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def check_fields(obj: Any, where: str) -> None:
    """:func:`check_types` on every field of dataclass instance ``obj`` (from ``__post_init__``,
    so specs built in Python are checked as those read from YAML)."""
    import dataclasses

    check_types(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, where)


def check_types(cls: type, data: Mapping[str, Any], where: str) -> None:
    """Refuse, naming ``where`` and the key, a value of ``data`` that does not fit the type
    of the field of dataclass ``cls`` with that name (unknown keys are left to the caller)."""
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key in hints and not _fits(value, hints[key]):
            hint = ""
            if isinstance(value, str) and _fits(0.5, hints[key]) and _NUMBER.fullmatch(value.strip()):
                hint = (" (YAML reads 1e-3 as text: write 1.0e-3)" if _NO_DOT_EXPONENT.fullmatch(value.strip())
                        else " (write it unquoted)")
            shown = "null" if value is None else repr(value)
            raise MestiError(f"{where}: {key}", f"{shown} must be {_describe(hints[key])}{hint}")
