"""The command line stays a thin layer: no command function over 10 parameters (options come
as one object or a generated signature), no ``locals()`` forwarding, no private names taken
from another cli module."""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "src" / "mesti" / "cli"


def modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for p in sorted(CLI.glob("*.py"))]


def test_no_cli_function_takes_more_than_ten_parameters() -> None:
    wide = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                a = node.args
                n = len(a.posonlyargs + a.args + a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
                if n > 10:
                    wide.append(f"{path.name}:{node.name} ({n})")
    assert wide == []


def test_no_locals_forwarding_and_no_private_imports_across_cli_modules() -> None:
    found = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "locals":
                found.append(f"{path.name}: locals()")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mesti.cli."):
                found += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert found == []


def test_every_command_resolves_through_the_one_option_table() -> None:
    import typer

    from mesti.cli.main import app
    from mesti.cli.spec_options import OPTIONS

    group = typer.main.get_command(app)
    for name in ("loso", "holdout", "train"):
        flags = {o for p in group.commands[name].params for o in p.opts if not o.startswith("-") or o.startswith("--")}  # type: ignore[attr-defined]
        table = {o.flag for o in OPTIONS if name in o.commands}
        assert table | {"--config", "overrides", "--help"} >= flags and table <= flags, name
