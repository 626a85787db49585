"""One set of tiny synthetic stand-ins of CASME II, SAMM and SMIC-HS, made once per test
session and shared by every paper test, and the tiny settings every study runs with."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mesti.synth.layouts import relayout
from mesti.utils.outputs import SYNTH_MARKER
from tests.studies.study_tree import write_study_tree

#: The smallest settings that still run every table end to end: one epoch, 16 px, one split.
TINY = dict(epochs=1, batch_size=16, img_size=16, size=16, repeats=1, face="none", device="cpu")


def _standins(base: Path, subjects: int) -> dict[str, Path]:
    """CASME II, SAMM and SMIC-HS stand-ins (``subjects`` x 9 clips each, other clips in each: a
    composite of one set under three names would rightly be refused as leaking) and one clip list."""
    roots = {name: relayout(write_study_tree(base / f"tree-{name}", subjects=subjects, per_class=3, seed=i), base / name, name)
             for i, name in enumerate(("casme2", "samm", "smic"))}
    for root in roots.values():  # synthetic stand-ins, marked as `mesti synth` marks its sets
        (root / SYNTH_MARKER).write_text('{"made by": "tests/paper/conftest.py"}\n', encoding="utf-8")
    rows = []
    for root in roots.values():
        with open(root / "clip_list.csv", newline="") as f:
            rows.extend(list(csv.reader(f))[1:])
    with open(base / "clip_list.csv", "w", newline="") as f:
        csv.writer(f).writerows([["dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename"], *rows])
    return {**roots, "list": base / "clip_list.csv", "cache": base / "cache"}


@pytest.fixture(scope="session")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two subjects: LOSO has two folds, so every LOSO study stays quick."""
    return _standins(tmp_path_factory.mktemp("standins"), subjects=2)


@pytest.fixture(scope="session")
def holdout_standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four subjects (36 clips): room for Table I's 26 CASME II test clips."""
    return _standins(tmp_path_factory.mktemp("holdout_standins"), subjects=4)
