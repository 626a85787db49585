from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from tests.datasets.builders import build_samm_tree, read_samm_sheet, subset_samm_sheet

CLIPS = ["006_1_2", "006_3_4", "007_6_2"]  # anger, sadness (no 5-class label), happiness


def test_counts_of_the_real_sheet(samm_sheet: Path, tmp_path: Path) -> None:
    records = create_dataset("samm", tmp_path, sheet=samm_sheet).records()
    assert len(records) == 159
    assert len({r.subject for r in records}) == 29
    five = [r for r in records if r.label is not None]
    assert (len(five), len({r.subject for r in five})) == (136, 27)
    assert Counter(r.label for r in five) == {"anger": 57, "other": 26, "happiness": 26, "surprise": 15, "contempt": 12}
    three = [r for r in create_dataset("samm", tmp_path, sheet=samm_sheet, classes=3).records() if r.label is not None]
    assert Counter(r.label for r in three) == {"negative": 57 + 12 + 9 + 8 + 6, "positive": 26, "surprise": 15}
    assert len({r.subject for r in three}) == 28


def test_merge_other_gives_the_papers_159_clips(samm_sheet: Path, tmp_path: Path) -> None:
    records = create_dataset("samm", tmp_path, sheet=samm_sheet, merge_other=True).records()
    labels = Counter(r.label for r in records if r.label is not None)
    assert sum(labels.values()) == 159
    assert labels == {"anger": 57, "other": 26 + 9 + 8 + 6, "happiness": 26, "surprise": 15, "contempt": 12}
    with pytest.raises(MestiError, match="5 classes only"):
        create_dataset("samm", tmp_path, sheet=samm_sheet, classes=3, merge_other=True)


def test_records_follow_the_sheet(samm_sheet: Path, tmp_path: Path) -> None:
    df = read_samm_sheet(samm_sheet)
    records = create_dataset("samm", tmp_path, sheet=samm_sheet).records()
    assert [r.clip_id for r in records] == list(df["Filename"])  # sheet order
    first = records[0]
    row = df.iloc[0]
    assert first.subject == row["Subject"] == "006"  # text, not the number 6
    assert (first.onset_frame, first.apex_frame, first.offset_frame) == (row["Onset Frame"], row["Apex Frame"], row["Offset Frame"])
    assert first.emotion == row["Estimated Emotion"].lower()
    assert first.fps == 200.0
    # Action Units mix numbers and text in the sheet; records carry text.
    assert {type(r.action_units) for r in records} == {str}
    assert any(r.action_units == "4" for r in records)


def test_the_header_quirk_is_reported(samm_sheet: Path, tmp_path: Path) -> None:
    adapter = create_dataset("samm", tmp_path, sheet=samm_sheet)
    assert any("row 14" in issue for issue in adapter.issues)
    assert all(not r.notes for r in adapter.records())  # the v2 sheet has no per-clip quirk


@pytest.mark.parametrize("nested", [True, False], ids=["root-holds-SAMM", "root-is-SAMM"])
def test_clips_load_from_the_release_layout(samm_sheet: Path, tmp_path: Path, nested: bool) -> None:
    top = build_samm_tree(tmp_path, samm_sheet, CLIPS, nested=nested)
    sheet = subset_samm_sheet(samm_sheet, tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", CLIPS)  # found in root
    adapter = create_dataset("samm", tmp_path)
    assert adapter.sheet_path == sheet
    records = {r.clip_id: r for r in adapter.records()}
    assert list(records) == CLIPS
    rec = records["006_1_2"]
    assert rec.frame_dir == top / "006" / "006_1_2"
    assert rec.frame_paths()[0].name == f"006_{rec.onset_frame:05d}.jpg"
    clip = rec.load()
    assert clip.frames.shape == (rec.offset_frame - rec.onset_frame + 1, 6, 8, 3)
    assert clip.apex == rec.apex_frame - rec.onset_frame
    np.testing.assert_array_equal(clip.frames[..., 0], clip.frames[..., 2])  # grayscale as RGB
    assert (clip.subject, clip.clip_id, clip.label) == ("006", "006_1_2", "anger")
    assert records["006_3_4"].label is None  # sadness is outside the 5 classes


def test_quirks_of_other_sheet_versions_are_fixed_and_noted(samm_sheet: Path, tmp_path: Path) -> None:
    edits = {("006_1_2", "Apex Frame"): -1, ("006_3_4", "Apex Frame"): None, ("007_6_2", "Subject"): 7,
             ("007_6_2", "Estimated Emotion"): " Happiness "}
    sheet = subset_samm_sheet(samm_sheet, tmp_path / "v1.xlsx", CLIPS, edits)
    adapter = create_dataset("samm", tmp_path, sheet=sheet)
    records = {r.clip_id: r for r in adapter.records()}
    for clip in ("006_1_2", "006_3_4"):
        rec = records[clip]
        assert rec.apex_frame == rec.onset_frame + (rec.offset_frame - rec.onset_frame) // 2
        assert any("apex taken as the middle frame" in n for n in rec.notes)
    happy = records["007_6_2"]
    assert happy.subject == "007" and any("zero-padded" in n for n in happy.notes)
    assert happy.label == "happiness"
    assert sum("apex taken as the middle" in i for i in adapter.issues) == 2


def test_bad_input_is_refused(samm_sheet: Path, casme2_sheet: Path, tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="has no worksheet 'MICRO_ONLY'"):
        create_dataset("samm", tmp_path, sheet=casme2_sheet).records()
    wb = openpyxl.Workbook()
    wb.active.title = "MICRO_ONLY"
    for _ in range(13):
        wb.active.append(["notes"])
    wb.active.append(["Subject", "Filename", "Onset", "Apex", "Offset"])  # v1-style names
    wb.save(tmp_path / "other.xlsx")
    with pytest.raises(MestiError, match="missing column.*Onset Frame"):
        create_dataset("samm", tmp_path, sheet=tmp_path / "other.xlsx").records()
    with pytest.raises(MestiError, match="5 or 3 classes"):
        create_dataset("samm", tmp_path, sheet=samm_sheet, classes=4)
    with pytest.raises(MestiError, match="no SAMM coding sheet|the SAMM coding sheet"):
        create_dataset("samm", tmp_path)
    with pytest.raises(MestiError, match="unknown option"):
        create_dataset("samm", tmp_path, sheet=samm_sheet, release="raw")
