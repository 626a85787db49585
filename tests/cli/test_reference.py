"""docs/cli.md, the reference of every command, is generated from the Typer app and kept current."""

from __future__ import annotations

from pathlib import Path

import typer

from mesti.cli.reference import GENERATE, commands, main, render

ROOT = Path(__file__).resolve().parents[2]


def test_docs_cli_md_is_the_page_the_program_generates_now() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == render(), f"docs/cli.md is stale: run `make docs` ({GENERATE})"


def test_every_command_and_flag_of_mesti_is_on_the_page() -> None:
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    docs = commands()
    paths = {" ".join(d.path) for d in docs}
    assert {"loso", "holdout", "grid", "train", "spot", "spot-eval", "analyze", "data check", "paper run",
            "plot weights"} <= paths
    for doc in docs:
        section = page.split(f"\n## {' '.join(('mesti', *doc.path))}\n", 1)[1].split("\n## ", 1)[0]
        for flag in doc.flags:
            assert f"`{flag}" in section or f" {flag}`" in section or f"/ {flag}" in section, (doc.path, flag)


def _toy() -> typer.Typer:
    app = typer.Typer(name="toy", add_completion=False)
    group = typer.Typer(help="A group of two.")

    @app.command("run")
    def run(
        source: Path = typer.Argument(..., help="What to read."),
        out: Path = typer.Option(Path("o"), "--out", "-o", help="Where | to write."),
        fast: bool = typer.Option(False, "--fast/--slow", help="Speed."),
        secret: int = typer.Option(0, "--secret", hidden=True),
    ) -> None:
        """Run it.

        Second paragraph."""

    @group.command("one")
    def one() -> None:
        """The first."""

    @group.command("two", hidden=True)
    def two() -> None:
        """Not listed."""

    app.add_typer(group, name="grp")
    return app


def test_the_walk_finds_groups_arguments_options_and_skips_hidden_ones() -> None:
    docs = commands(_toy())
    by_path = {d.path: d for d in docs}
    assert list(by_path) == [(), ("run",), ("grp",), ("grp", "one")]
    run = by_path[("run",)]
    assert run.arguments == (("SOURCE", "What to read."),)
    assert run.flags == {"--out", "-o", "--fast", "--slow", "--help"}
    assert run.help == "Run it.\n\nSecond paragraph."
    assert by_path[("grp",)].is_group and by_path[("grp",)].subcommands == ("one",)


def test_the_page_escapes_table_cells_and_gives_usage_and_anchors() -> None:
    page = render(commands(_toy()))
    assert "| [`mesti run`](#mesti-run) | Run it. |" in page
    assert "Usage: `mesti run [OPTIONS] SOURCE`" in page and "Usage: `mesti grp [OPTIONS] COMMAND [ARGS]...`" in page
    assert "Where \\| to write." in page and "Run it.<br>Second paragraph." not in page.split("## mesti run")[0]
    assert "`--fast / --slow`" in page and "--secret" not in page and "mesti grp two" not in page


def test_main_writes_the_page_or_refuses_unknown_arguments(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path / "cli.md")]) == 0
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == render()
    assert main(["--bogus"]) == 2 and "usage" in capsys.readouterr().err
