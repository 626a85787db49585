from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from tests.datasets.builders import build_smic_tree, composite_rows, smic_release_folder

CLIPS = ["s01_ne_01", "s03_po_11", "s20_sur_05"]


def test_164_clips_of_16_subjects(tmp_path: Path) -> None:
    expected = composite_rows("smic")
    build_smic_tree(tmp_path, CLIPS)
    records = create_dataset("smic", tmp_path).records()
    assert len(records) == len(expected) == 164
    assert len({r.subject for r in records}) == 16
    assert Counter(r.label for r in records) == {"negative": 70, "positive": 51, "surprise": 43}
    assert [r.clip_id for r in records] == [smic_release_folder(c)[2] for c in expected["filename_o"]]


@pytest.mark.parametrize("padded", [False, True], ids=["s3", "s03"])
@pytest.mark.parametrize("nested", [True, False], ids=["root-holds-HS", "root-is-HS"])
def test_clips_load_from_the_release_layout(tmp_path: Path, padded: bool, nested: bool) -> None:
    top = build_smic_tree(tmp_path, CLIPS, frames=7, padded_subjects=padded, nested=nested)
    records = {r.clip_id: r for r in create_dataset("smic", tmp_path).records()}
    rec = records["s3_po_11"]
    subject = "s03" if padded else "s3"
    assert rec.frame_dir == top / subject / "micro" / "positive" / "s3_po_11"
    assert (rec.subject, rec.label, rec.fps) == (subject, "positive", 100.0)
    clip = rec.load()
    assert clip.frames.shape[0] == 7 and (clip.onset, clip.apex, clip.offset) == (0, 3, 6)  # apex: the middle
    missing = records["s2_sur_05"]  # not written: expected where the release puts it
    assert missing.frame_dir == top / "s2" / "micro" / "surprise" / "s2_sur_05"
    assert not missing.frame_dir.exists()


def test_the_folder_is_the_label_and_a_disagreement_is_noted(tmp_path: Path) -> None:
    top = build_smic_tree(tmp_path, ["s01_ne_01"])
    micro = top / "s1" / "micro"
    (micro / "positive").mkdir()
    (micro / "negative" / "s1_ne_01").rename(micro / "positive" / "s1_ne_01")
    adapter = create_dataset("smic", tmp_path)
    rec = next(r for r in adapter.records() if r.clip_id == "s1_ne_01")
    assert rec.label == "positive"
    assert any("named 'ne'" in n for n in rec.notes) and any("labels it negative" in n for n in rec.notes)
    assert any(i.startswith("s1/s1_ne_01:") for i in adapter.issues)


def test_extra_folders_but_not_non_micro(tmp_path: Path) -> None:
    top = build_smic_tree(tmp_path, CLIPS)
    (top / "s1" / "non_micro" / "s1_n_01").mkdir(parents=True)
    (top / "s1" / "micro" / "negative" / "s1_ne_99").mkdir()
    (top / "s1" / "micro" / "anger").mkdir()
    extras = create_dataset("smic", tmp_path).extra_folders()
    assert extras == [top / "s1" / "micro" / "anger", top / "s1" / "micro" / "negative" / "s1_ne_99"]


def test_the_smic_e_sheet_is_refused_with_the_reason(smic_e_sheet: Path, tmp_path: Path) -> None:
    # Why it is not used: it annotates the long SMIC-E videos and lacks clips of SMIC-HS.
    hs = pd.read_excel(smic_e_sheet, sheet_name="HS")
    listed = {smic_release_folder(c)[2] for c in composite_rows("smic")["filename_o"]}
    assert set(hs["Filename"]) < listed and len(listed - set(hs["Filename"])) == 7
    assert hs["OnsetF"].max() > 1_000_000  # frame numbers of the whole recording
    with pytest.raises(MestiError, match="SMIC-E"):
        create_dataset("smic", tmp_path, sheet=smic_e_sheet)
    with pytest.raises(MestiError, match="3 classes"):
        create_dataset("smic", tmp_path, classes=5)


def test_another_clip_list_can_be_given(tmp_path: Path) -> None:
    small = composite_rows("smic").head(4)
    small.to_csv(tmp_path / "list.csv", index=False)
    build_smic_tree(tmp_path, small["filename_o"])
    records = create_dataset("smic", tmp_path, sheet=tmp_path / "list.csv").records()
    assert [r.clip_id for r in records] == [smic_release_folder(c)[2] for c in small["filename_o"]]
    assert all(r.frame_dir.is_dir() for r in records)
