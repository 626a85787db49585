"""The reference of every ``mesti`` command, generated from the Typer app (docs/cli.md).

``python -m mesti.cli.reference --out docs/cli.md`` (or ``make docs``) rewrites the page; a
test regenerates it and fails when the committed page differs, so the reference never drifts
from the program. The same walk over the command tree serves the docs check (which commands
and flags exist).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

GENERATE = "python -m mesti.cli.reference --out docs/cli.md"


@dataclass(frozen=True)
class CommandDoc:
    """One command (or group) of the tree: its words after ``mesti``, its help and parameters."""

    path: tuple[str, ...]
    help: str
    is_group: bool
    subcommands: tuple[str, ...]
    arguments: tuple[tuple[str, str], ...]  # (usage name, help)
    options: tuple[tuple[str, str], ...]  # (flags with metavar, help)
    flags: frozenset[str]  # every spelling: --out, -o, --no-x ...


def _clean(text: str | None) -> str:
    """One paragraph per blank-line block, rich's escaped brackets plain, no trailing space."""
    if not text:
        return ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.split("\f")[0])]
    return "\n\n".join(p for p in paragraphs if p).replace("\\[", "[")


def _argument_name(param: Any) -> str:
    name = param.name.upper()
    if param.nargs == -1:
        name += "..."
    return name if param.required else f"[{name}]"


def _walk(command: Any, ctx: Any, path: tuple[str, ...]) -> Iterator[CommandDoc]:
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments, options, flags = [], [], set()
    for p in params:
        if p.param_type_name == "argument":
            arguments.append((_argument_name(p), _clean(getattr(p, "help", None))))
            continue
        flags.update(p.opts, p.secondary_opts)
        record = p.get_help_record(ctx)
        if record:
            options.append((record[0], _clean(record[1])))
    names = tuple(n for n in (command.list_commands(ctx) if hasattr(command, "list_commands") else [])
                  if not command.get_command(ctx, n).hidden)
    yield CommandDoc(path, _clean(command.help), hasattr(command, "list_commands"), names,
                     tuple(arguments), tuple(options), frozenset(flags))
    for name in names:
        sub = command.get_command(ctx, name)
        yield from _walk(sub, sub.make_context(name, [], parent=ctx, resilient_parsing=True), (*path, name))


def commands(app: typer.Typer | None = None) -> list[CommandDoc]:
    """Every command of ``mesti`` (or of ``app``), the program itself first, in the order
    ``--help`` lists them."""
    if app is None:
        from mesti.cli.main import app
    root = typer.main.get_command(app)
    return list(_walk(root, root.make_context("mesti", [], resilient_parsing=True), ()))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n\n", "<br>")


def _usage(doc: CommandDoc) -> str:
    words = ["mesti", *doc.path, "[OPTIONS]"]
    words += ["COMMAND [ARGS]..."] if doc.is_group else [name for name, _ in doc.arguments]
    return " ".join(words)


def render(docs: list[CommandDoc] | None = None) -> str:
    """The page: a list of the commands, then one section per command with every parameter."""
    docs = commands() if docs is None else docs
    lines = [
        "# Command reference",
        "",
        "Every `mesti` command with its arguments and options, generated from the program by `make docs`",
        f"(`{GENERATE}`); a test fails when this page and the program differ.",
        "`python -m mesti` is the same program, and `mesti COMMAND --help` prints the same help.",
        "",
        "| command | what |",
        "|---|---|",
    ]
    for doc in docs[1:]:
        name = " ".join(("mesti", *doc.path))
        anchor = "-".join(("mesti", *doc.path))
        first = doc.help.split("\n\n")[0]
        lines.append(f"| [`{name}`](#{anchor}) | {_cell(first)} |")
    for doc in docs:
        lines += ["", f"## {' '.join(('mesti', *doc.path))}", "", doc.help, "", f"Usage: `{_usage(doc)}`"]
        if doc.subcommands:
            lines += ["", "Commands: " + ", ".join(f"`{' '.join(('mesti', *doc.path, n))}`" for n in doc.subcommands) + "."]
        rows = [(f"`{name}`", what) for name, what in doc.arguments]
        rows += [(", ".join(f"`{part.strip()}`" for part in flags.split(", ")), what) for flags, what in doc.options]
        lines += ["", "| argument or option | what |", "|---|---|"]
        lines += [f"| {_cell(name)} | {_cell(what)} |" for name, what in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``--out PATH`` writes the page atomically; without it the page goes to stdout."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args[:1] == ["--out"] and len(args) == 2:
        from mesti.utils.atomic import write_text

        write_text(Path(args[1]), text)
    elif args:
        print(f"usage: {GENERATE.replace(' --out docs/cli.md', '')} [--out PATH]", file=sys.stderr)
        return 2
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
