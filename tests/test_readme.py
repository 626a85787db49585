"""README.md is a front door: short, its Python example runs, and each capability points into docs/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: The capabilities the README must give a table each, and the docs page each table links to.
CAPABILITIES = {
    "The method": "docs/method.md",
    "Datasets": "docs/datasets.md",
    "Protocols and honesty": "docs/protocols.md",
    "The paper's tables": "docs/paper.md",
    "Spotting and analyze": "docs/analyze.md",
    "Performance and the GPU": "docs/performance.md",
    "Ray": "docs/ray.md",
    "Reference of every command": "docs/cli.md",
}


def _section(heading: str) -> str:
    start = README.index(f"\n{heading}\n")
    level = heading.split(" ")[0]
    ends = [m.start() for m in re.finditer(r"\n#{1,%d} " % len(level), README) if m.start() > start]
    return README[start : ends[0] if ends else None]


def test_readme_is_at_most_250_lines() -> None:
    assert len(README.splitlines()) <= 250


def test_each_capability_has_a_table_that_links_to_its_docs_page() -> None:
    for title, page in CAPABILITIES.items():
        section = _section(f"### {title}")
        assert "|---|" in section, title
        assert f"]({page}" in section, (title, page)


def test_the_demo_section_has_one_table_and_one_small_picture_with_its_command() -> None:
    section = _section("## What the demo shows")
    assert len(re.findall(r"^\|---", section, flags=re.M)) == 1 and "make demo" in section
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)
    assert len(pictures) == 1
    picture = ROOT / pictures[0]
    assert picture.is_file() and picture.stat().st_size < 200_000
    assert "contact_sheet.png" in section and f"save('{pictures[0]}'" in section


def _python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", _section("## Ten lines of Python"), flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_the_python_example_is_about_ten_lines() -> None:
    assert len([line for line in _python_example().splitlines() if line.strip()]) <= 12


@pytest.mark.slow
def test_the_python_example_runs_on_a_small_synthetic_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README says to run first (mesti synth, mesti train, mesti synth --long), made
    small, then the example itself, as written."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in (
        ["synth", "data", "--subjects", "3", "--clips-per-subject", "5", "--size", "48", "--seed", "0"],
        ["train", "--dataset", "casme2", "--root", "data", "--classes", "3", "--modality", "mesti", "--model",
         "meganet", "--img-size", "32", "--size", "48", "--face", "none", "--epochs", "1", "--batch-size", "8",
         "--device", "cpu", "--cache", "cache", "--out", "model"],
        ["synth", "synth_long", "--long", "--subjects", "1", "--videos-per-subject", "1", "--seconds", "12",
         "--fps", "30", "--size", "96", "--seed", "3"],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output, res.exception)
    namespace: dict[str, object] = {}
    exec(compile(_python_example(), "README.md", "exec"), namespace)
    result, image, video = namespace["result"], namespace["image"], namespace["video"]
    assert result.label in ("negative", "positive", "surprise") and image.shape[2] == 3  # --classes 3
    written = {p.name for p in (tmp_path / "analysis").iterdir()}
    assert {"intervals.csv", "intervals.json", "timeline.png", "report.html"} <= written
    rows = json.loads((tmp_path / "analysis" / "intervals.json").read_text())["intervals"]
    assert len(rows) == len(video.intervals)
