"""What the README and docs/ state about the code, checked against the code (issue 21's doc items)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mesti.modalities import list_modalities
from mesti.modalities.rank_pooling import mesti_weights

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: How the README's intro names each registered modality.
INTRO_NAMES = {
    "mesti": "MESTI",
    "dynamic_image": "dynamic image",
    "dynamic_image_simplified": "dynamic image",
    "apex": "apex frame",
    "flow_onset_apex": "onset -> apex",
    "flow_apex_offset": "apex -> offset",
    "optical_strain": "optical strain",
    "active_image": "Active image",
    "affective_motion": "Affective motion image",
}


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end >= 0 else None]


def test_readme_intro_names_every_modality_offered_and_tv_l1_as_mestis_choice() -> None:
    intro = " ".join(README.split("\n## ", 1)[0].split())
    assert set(list_modalities()) == set(INTRO_NAMES), "a modality was added: name it in the README intro"
    for name, words in INTRO_NAMES.items():
        assert words in intro, name
    assert "TV-L1" in intro and "mesti's choice" in intro


def test_nothing_says_the_affective_motion_image_has_no_public_definition() -> None:
    texts = [README, *(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "src" / "mesti").rglob("*") if p.suffix in (".py", ".yaml", ".csv")]
    assert not [t for t in texts if "no public definition" in t or "definition is not public" in t]


def test_paper_md_table_v_gives_a_spread_over_seeds_not_a_last_digit_claim() -> None:
    paper = (ROOT / "docs" / "paper.md").read_text(encoding="utf-8")
    section = _section(paper, "## A demonstration on synthetic stand-ins")
    assert "the figures above to the last digit" not in section
    assert "--seeds 0,1,2" in section and "thread count" in section and "BLAS" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "meganet" in line]
    assert len(rows) == 5 and all(line.count("+-") == 3 for line in rows)


def test_docs_index_lists_every_page_and_nothing_is_promised_for_later() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    assert pages == set(re.findall(r"^\| \[[\w.-]+\]\(([\w.-]+\.md)\)", index, flags=re.M))
    for page in [README, *((ROOT / "docs").rglob("*.md"))]:
        text = " ".join((page if isinstance(page, str) else page.read_text(encoding="utf-8")).split())
        assert "when it lands" not in text and "will be documented" not in text


def test_docs_layout_lists_each_top_level_module_where_it_is() -> None:
    """docs/README.md's package layout against the tree: every entry exists (`x/` a package,
    `x.py` a module, a bare `x` either) and every package and module of src/mesti is listed."""
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    layout = index[index.index("## Package layout") :].split("```")[1]
    entries = re.findall(r"^  (\w+(?:\.py|/)?)\s+(.*)$", layout, flags=re.M)
    package = ROOT / "src" / "mesti"
    def exists(entry: str) -> bool:
        name = entry.rstrip("/")
        if entry.endswith("/") or entry.endswith(".py"):
            return (package / name).is_dir() if entry.endswith("/") else (package / name).is_file()
        return (package / name).is_dir() or (package / f"{name}.py").is_file()

    listed = {entry.rstrip("/").removesuffix(".py") for entry, _ in entries}
    present = {p.name.removesuffix(".py") for p in package.iterdir()
               if (p.is_dir() and p.name != "__pycache__") or (p.suffix == ".py" and not p.name.startswith("__"))}
    assert [e for e, _ in entries if not exists(e)] == [], "listed but not in src/mesti"
    assert sorted(present - listed) == [], "in src/mesti but not listed"
    described = dict(entries)
    assert "demo" in described["demo.py"] and not any("demo" in what for e, what in entries if e != "demo.py")


def _largest_weight_frames(length: int, apex: int) -> set[int]:
    w = mesti_weights(length, apex)
    return {int(t) + 1 for t in np.flatnonzero(w == w.max())}


@pytest.mark.parametrize("length", range(2, 16))
def test_method_md_rule_for_the_largest_mesti_weight(length: int) -> None:
    text = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    assert "falls on frame a + 1 (the first frame after the apex) when T > 2a" in text
    assert "on the apex itself when T < 2a (or a = T), and on both when T = 2a" in text
    for apex in range(1, length + 1):
        rule = {apex + 1} if length > 2 * apex else {apex} if length < 2 * apex or apex == length else {apex, apex + 1}
        assert _largest_weight_frames(length, apex) == rule, (length, apex)


def test_every_figure_of_benchmarks_md_sits_beside_its_command_and_machine() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    intro, *sections = page.split("\n## ")
    assert "2-core x86-64 development machine, no GPU" in intro
    for section in sections:
        title = section.splitlines()[0]
        commands = re.findall(r"`((?:time |PYTHON=\S+ )?(?:python|bash|mesti|make) [^`]+)`", " ".join(section.split()))
        assert commands, f"## {title}: no command beside its figures"
        assert re.search(r"[Rr]ecorded \d{4}-\d{2}-\d{2}", " ".join(section.split())), f"## {title}: no date"
