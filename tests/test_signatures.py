"""Issue 19: no function takes more than ten parameters (``self``/``cls`` not counted);
many options travel as one typed object (``MEGANetConfig``, ``SynthSettings``...)."""

from __future__ import annotations

import ast
from pathlib import Path

import mesti

MOST = 10


def _too_long(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs] + [p.arg for p in (a.vararg, a.kwarg) if p]
                count = len([n for n in names if n not in ("self", "cls")])
                if count > MOST:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({count})")
    return found


def test_no_function_takes_more_than_ten_parameters() -> None:
    assert _too_long(Path(mesti.__file__).parent) == []
