"""Reading a user's YAML file: a syntax error is one line with its position, not a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mesti.errors import MestiError


def read_yaml(path: str | Path) -> Any:
    """The parsed content of ``path``; :class:`MestiError` naming the line and column of an error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MestiError(path, f"cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid syntax").split())
        raise MestiError(path, f"not valid YAML at {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise MestiError(path, f"not valid YAML ({' '.join(str(exc).split())})") from None
