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


def test_readme_table_v_gives_a_spread_over_seeds_not_a_last_digit_claim() -> None:
    section = _section(README, "## The paper's tables")
    assert "the figures above to the last digit" not in section
    assert "--seeds 0,1,2" in section and "thread count" in section and "BLAS" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "meganet" in line]
    assert len(rows) == 5 and all(line.count("+-") == 3 for line in rows)


def test_docs_index_points_at_spotting_pages_that_exist() -> None:
    text = " ".join((ROOT / "docs" / "README.md").read_text(encoding="utf-8").split())
    assert "when it lands" not in text
    pages = re.findall(r"\]\(([\w-]+\.md)\)", text)
    assert "spotting.md" in pages and "spotting-files.md" in pages
    for page in pages:
        assert (ROOT / "docs" / page).is_file(), page


def test_readme_layout_lists_each_module_where_it_is() -> None:
    layout = README[README.index("## Layout") :].split("```")[1]
    entries = re.findall(r"^  (\w+(?:\.py|/))\s+(.*)$", layout, flags=re.M)
    package = ROOT / "src" / "mesti"
    for entry, _ in entries:
        assert (package / entry.rstrip("/")).exists(), entry
    described = {entry: what for entry, what in entries}
    assert "demo" not in described["training/"] and "demo" in described["demo.py"]
    assert (package / "demo.py").is_file() and not (package / "training" / "demo.py").exists()


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
