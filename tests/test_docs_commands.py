"""README.md and docs/ name only commands, flags, make targets, scripts and links that exist.

Every code span and every line of a fenced code block is read as a shell line: a `mesti ...`
(or `python -m mesti ...`) call must name a command of the Typer app and only flags that
command has; a flag quoted alone (`--report-oracle`) must belong to some mesti command; a
`make TARGET` must be a Makefile target; a `python benchmarks/x.py --flag` must name a script
that exists and a flag it declares. Relative links must reach a file, and a `#anchor` one of
its headings.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesti.cli.reference import CommandDoc, commands

ROOT = Path(__file__).resolve().parents[0].parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NUMBER = re.compile(r"^-\d")
SEPARATORS = re.compile(r"\s*(?:;|&&|\|\||\s\|\s)\s*")


def code_lines(text: str) -> Iterator[str]:
    """Each code span, and each line of each fenced block (continuations joined)."""
    prose: list[str] = []
    block: list[str] | None = None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if block is None:
                block = []
            else:
                yield from " ".join(block).replace("\\ ", " ").split("\n")
                block = None
            continue
        if block is None:
            prose.append(line)
        elif line.rstrip().endswith("\\"):
            block.append(line.rstrip()[:-1])
        else:
            block.append(line + "\n")
    for span in re.findall(r"`([^`]+)`", "\n".join(prose)):
        yield " ".join(span.split())


def _tokens(segment: str) -> list[str]:
    segment = re.sub(r"(^|\s)#.*$", "", segment)
    try:
        return shlex.split(segment)
    except ValueError:
        return segment.split()


def _program(tokens: list[str]) -> tuple[str, list[str]]:
    """What runs and its arguments, past `time`, `nice`, `$ ` and VAR=value."""
    while tokens and (tokens[0] in ("$", "time", "nice", "sudo") or re.fullmatch(r"[A-Z_]+=\S*", tokens[0])):
        tokens = tokens[1:]
    if not tokens:
        return "", []
    if tokens[0] == "mesti":
        return "mesti", tokens[1:]
    if re.search(r"python3?$", tokens[0]) and tokens[1:3] == ["-m", "mesti"]:
        return "mesti", tokens[3:]
    if re.search(r"python3?$", tokens[0]) and len(tokens) > 1 and tokens[1].startswith("benchmarks/"):
        return tokens[1], tokens[2:]
    if tokens[0] == "bash" and len(tokens) > 1 and tokens[1].startswith("benchmarks/"):
        return tokens[1], tokens[2:]
    return tokens[0], tokens[1:]


def _flags(token: str) -> list[str]:
    """`--a/--b` and `--x=1` are flags; `-1` and `x=-2` are values."""
    if not token.startswith("-") or NUMBER.match(token) or token in ("-", "--"):
        return []
    parts = token.split("/")
    return [p.split("=", 1)[0] for p in parts if p.startswith("-")]


def _check_mesti(args: list[str], tree: dict[tuple[str, ...], CommandDoc]) -> list[str]:
    """Walk the words after `mesti`; `loso|holdout` (or `loso/holdout`) stands for each of them."""
    nodes: list[tuple[str, ...]] = [()]
    problems = []
    for token in args:
        docs = [tree[n] for n in nodes]
        flags = _flags(token)
        if flags:
            problems += [f"`mesti {' '.join(d.path)}` has no {f}" for f in flags for d in docs if f not in d.flags]
        elif all(d.is_group for d in docs):
            names = re.split(r"[|/]", token)
            if all(name in d.subcommands for name in names for d in docs):
                nodes = [(*n, name) for n in nodes for name in names]
            elif token == "..." or token.isupper() or token[0] in "[<$":
                break  # a placeholder for any command
            else:
                problems.append(f"`mesti {' '.join((*nodes[0], token))}` is no command")
                break
    return problems


def _script_flags(script: Path) -> set[str]:
    text = script.read_text(encoding="utf-8")
    return set(re.findall(r"""["'](--[\w-]+)["']""", text)) | {"--help"}


def check(text: str) -> list[str]:
    """What a page names that does not exist (empty when everything does)."""
    docs = commands()
    tree = {d.path: d for d in docs}
    every_flag = set().union(*(d.flags for d in docs))
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.M))
    problems = []
    for line in code_lines(text):
        if line.startswith("-") and not line.startswith("- "):
            tokens = _tokens(line)
            problems += [f"no mesti command has {f}" for f in _flags(tokens[0] if tokens else "") if f not in every_flag]
            continue
        for segment in SEPARATORS.split(line):
            program, args = _program(_tokens(segment))
            if program == "mesti":
                problems += _check_mesti(args, tree)
            elif program == "make" and args and "=" not in args[0] and not args[0].startswith("-"):
                if args[0] not in targets:
                    problems.append(f"`make {args[0]}`: no such target in the Makefile")
            elif program.startswith("benchmarks/") and program.endswith((".py", ".sh")):
                script = ROOT / program
                if not script.is_file():
                    problems.append(f"{program}: no such script")
                else:
                    declared = _script_flags(script)
                    problems += [f"{program} has no {f}" for t in args for f in _flags(t) if f not in declared]
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_names_only_commands_flags_targets_and_scripts_that_exist(page: Path) -> None:
    assert check(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("broken, problem", [
    ("Run `mesti los --out x`.", "`mesti los` is no command"),
    ("```bash\nmesti loso --dataset casme2 \\\n    --no-such-flag 3 --out x\n```", "`mesti loso` has no --no-such-flag"),
    ("`mesti paper go table3`", "`mesti paper go` is no command"),
    ("Load weights with `--pretrained PATH`.", "no mesti command has --pretrained"),
    ("`python benchmarks/encoders.py --bogus`", "benchmarks/encoders.py has no --bogus"),
    ("`python benchmarks/nothing.py`", "benchmarks/nothing.py: no such script"),
    ("```\nmake everything   # all of it\n```", "`make everything`: no such target in the Makefile"),
    ("`python -m mesti spot VIDEO --frames 3`", "`mesti spot` has no --frames"),
    ("`mesti loso|holdout --test-fraction 0.1`", "`mesti loso` has no --test-fraction"),
])
def test_the_check_finds_what_a_broken_page_names(broken: str, problem: str) -> None:
    assert check(broken) == [problem]


def test_the_check_reads_placeholders_values_and_other_programs_as_such() -> None:
    fine = """
`mesti --allow-large-frames COMMAND ...`, `mesti spot list`, `mesti loso|holdout --executor ray`, `mesti loso/holdout --seeds 0,1`, `mesti loso ... --seed -1`,
`mesti data check --dataset samm-long --opt fps=30`, `--onset/--apex/--offset`, `mesti.load_model`,
`pip install --no-deps dlib-bin`, `ray start --head`, `mesti_version`, `src/mesti/`

```bash
S="--dataset casme2"; mesti loso $S --folds 4 --out runs/kfold   # a comment --not-a-flag
for s in 0 1 2; do python benchmarks/loso_gpu.py --first-seed $s --json x.json; done
MESTI_CACHE=/tmp/c time python -m mesti paper run table5 --smic d --out runs
make gpu-check OUT=folder
```
"""
    assert check(fine) == []


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, no punctuation but hyphens, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_reach_a_file_and_a_heading(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert broken == []


def test_anchors_follow_githubs_rule() -> None:
    assert _anchor("The paper's studies, reduced") == "the-papers-studies-reduced"
    assert _anchor("`make demo`") == "make-demo"
    assert _anchor("Encoding a clip: outputs, options, scaling") == "encoding-a-clip-outputs-options-scaling"
