from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from mesti.datasets.composite import Composite
from mesti.datasets.megc import load_megc_list
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from tests.datasets.builders import build_casme2_tree, build_samm_tree, build_smic_tree

CASME2_MEGC = {"disgust": 0, "repression": 0, "happiness": 1, "surprise": 2}


def test_the_shipped_list_is_the_official_one(composite_list: Path) -> None:
    shipped = resources.files("mesti").joinpath("data", "megc2019_composite_442.csv").read_bytes()
    assert shipped == composite_list.read_bytes()


def test_the_shipped_list_has_the_benchmark_counts() -> None:
    entries = load_megc_list()
    assert Counter(e.dataset for e in entries) == {"casme2": 145, "samm": 133, "smic": 164}
    assert len({(e.dataset, e.subject) for e in entries}) == 24 + 28 + 16 == 68
    assert Counter(e.label for e in entries) == {"negative": 250, "positive": 109, "surprise": 83}


@pytest.fixture
def composite(tmp_path: Path, casme2_sheet: Path, samm_sheet: Path) -> Composite:
    adapter = create_dataset("composite", tmp_path, casme2_sheet=casme2_sheet, samm_sheet=samm_sheet)
    assert isinstance(adapter, Composite)
    return adapter


def test_442_clips_68_subjects_from_the_real_sheets(composite: Composite) -> None:
    records = composite.records()
    assert Counter(r.dataset for r in records) == {"casme2": 145, "samm": 133, "smic": 164}
    assert len(records) == 442
    assert len({(r.dataset, r.subject) for r in records}) == 68
    assert len({r.subject for r in records}) == 68  # no subject name is shared between datasets
    assert len({r.key for r in records}) == 442
    assert Counter(r.label for r in records) == {"negative": 250, "positive": 109, "surprise": 83}
    assert composite.class_names == ["negative", "positive", "surprise"]


def test_sheet_clips_left_out_of_the_list_are_reported(composite: Composite, casme2_sheet: Path, composite_list: Path) -> None:
    # An independent derivation from the sheet: DATASETS.md says it gives 147, the list 145.
    sheet = pd.read_excel(casme2_sheet)
    emotion = sheet["Estimated Emotion"].str.strip().str.lower()
    rows = zip(sheet["Subject"], sheet["Filename"], emotion, strict=True)
    derived = {f"casme2/sub{int(s):02d}/{f}" for s, f, e in rows if e in CASME2_MEGC}
    pinned = pd.read_csv(composite_list, dtype=str)
    listed = {f"casme2/{s}/{f}" for d, s, f in zip(pinned["dataset"], pinned["sub"], pinned["filename_o"], strict=True) if d == "casme2"}
    left_out = derived - listed
    assert len(derived) == 147 and len(left_out) == 2
    reported = {i.split(":")[0] for i in composite.issues if "the list leaves the clip out" in i}
    assert reported == left_out
    # Each dataset's own quirks come along, prefixed by its name.
    assert any(i.startswith("casme2:") and "ApexFrame '/'" in i for i in composite.issues)
    assert any(i.startswith("samm:") for i in composite.issues)


def test_a_list_label_that_differs_from_the_sheet_wins_and_is_reported(
    tmp_path: Path, casme2_sheet: Path, samm_sheet: Path, composite_list: Path
) -> None:
    pinned = pd.read_csv(composite_list, dtype=str)
    row = pinned.index[(pinned["dataset"] == "samm") & (pinned["filename_o"] == "006_1_2")][0]
    assert pinned.loc[row, "label"] == "0"  # anger: negative
    pinned.loc[row, "label"] = "2"
    pinned.to_csv(tmp_path / "edited.csv", index=False)
    adapter = create_dataset("composite", tmp_path, sheet=tmp_path / "edited.csv", casme2_sheet=casme2_sheet, samm_sheet=samm_sheet)
    rec = next(r for r in adapter.records() if r.key == "samm/006/006_1_2")
    assert rec.label == "surprise"
    assert any(i.startswith("samm/006/006_1_2:") and "the list labels it surprise" in i for i in adapter.issues)


def test_a_listed_clip_missing_from_a_sheet_is_an_error(tmp_path: Path, casme2_sheet: Path, samm_sheet: Path, composite_list: Path) -> None:
    pinned = pd.read_csv(composite_list, dtype=str)
    pinned.loc[0, "filename_o"] = "EP99_99f"
    pinned.to_csv(tmp_path / "edited.csv", index=False)
    adapter = create_dataset("composite", tmp_path, sheet=tmp_path / "edited.csv", casme2_sheet=casme2_sheet, samm_sheet=samm_sheet)
    with pytest.raises(MestiError, match=r"line 2: casme2/sub01/EP99_99f is not in the casme2 sheet"):
        adapter.records()


def test_clips_load_from_per_dataset_roots(tmp_path: Path, casme2_sheet: Path, samm_sheet: Path) -> None:
    casme2 = build_casme2_tree(tmp_path / "c", casme2_sheet, [("sub01", "EP02_01f")])
    samm = build_samm_tree(tmp_path / "m", samm_sheet, ["006_1_2"])
    smic = build_smic_tree(tmp_path / "s", ["s01_ne_01"])
    adapter = create_dataset(
        "composite", tmp_path, casme2_root=tmp_path / "c", samm_root=tmp_path / "m", smic_root=tmp_path / "s",
        casme2_sheet=casme2_sheet, samm_sheet=samm_sheet,
    )
    records = {r.key: r for r in adapter.records()}
    for key, top, label in (("casme2/sub01/EP02_01f", casme2, "positive"), ("samm/006/006_1_2", samm, "negative"),
                            ("smic/s1/s1_ne_01", smic, "negative")):
        rec = records[key]
        assert rec.frame_dir.is_relative_to(top) and rec.label == label
        clip = rec.load()
        assert clip.label == label and clip.frames.shape[0] == len(rec.frame_paths())


def test_one_root_holding_the_three_datasets(tmp_path: Path, casme2_sheet: Path, samm_sheet: Path) -> None:
    build_casme2_tree(tmp_path / "CASME2", casme2_sheet, [("sub01", "EP02_01f")])
    build_samm_tree(tmp_path, samm_sheet, ["006_1_2"])
    build_smic_tree(tmp_path / "SMIC", ["s01_ne_01"])
    adapter = create_dataset("composite", tmp_path, casme2_sheet=casme2_sheet, samm_sheet=samm_sheet)
    present = {r.key for r in adapter.records() if r.frame_dir.is_dir()}
    assert present == {"casme2/sub01/EP02_01f", "samm/006/006_1_2", "smic/s1/s1_ne_01"}


def test_only_three_classes(tmp_path: Path, casme2_sheet: Path, samm_sheet: Path) -> None:
    with pytest.raises(MestiError, match="3 classes"):
        create_dataset("composite", tmp_path, classes=5, casme2_sheet=casme2_sheet, samm_sheet=samm_sheet)
    with pytest.raises(MestiError, match="unknown option"):
        create_dataset("composite", tmp_path, smic_sheet="x.csv", casme2_sheet=casme2_sheet, samm_sheet=samm_sheet)


def test_the_shipped_composite_list_is_the_official_one() -> None:
    from tests.datasets.builders import COMPOSITE_LIST, annotation, shipped_composite_list

    assert shipped_composite_list().read_bytes() == annotation(COMPOSITE_LIST).read_bytes()
