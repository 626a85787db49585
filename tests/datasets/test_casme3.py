"""CAS(ME)^3 part A (``--dataset casme3``): a generated copy in the release layout with every
quirk of the real sheets, then the official sheets themselves where they are present."""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.datasets.base import OutsideRootError
from mesti.datasets.casme3 import CLASSES_4, FOUR_CLASS, Casme3Files, label_for
from mesti.datasets.check import check_dataset
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from tests.datasets.builders import annotation
from tests.datasets.casme3_tree import write_error_list, write_frames, write_long_sheet, write_me_sheet

runner = CliRunner()
ME_SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
LONG_XLS = "CAS(ME)3_part_A_v2.xls"
OFFICIAL = "casme3"  # the official sheets' folder among the annotations
ME_ROWS = [
    ("spNO.1", "a", 5, 8, 12, "disgust"),
    ("spNO.1", "a", 20, 24, 30, "happy"),
    ("spNO.1", "a", 40, 44, 50, "Others"),   # the capitalised 'Others' of three real rows
    ("spNO.1", "J", 3, 5, 9, "surprise"),    # upper-case J; the folder is j
    ("spNO.1", "b", 10, 5, 20, "fear"),      # apex outside onset..offset, nothing settles it
    ("spNO.1", "c", 10, 12, 0, "anger"),     # offset 0: the all-expression sheet settles it
    ("spNO.1", "d", 30, 31, 20, "sad"),      # reversed, nothing settles it
    ("spNO.1", "e", 1, 1, 400, "others"),    # 400 frames (13 s): no micro-expression
    ("spNO.1", "a", 5, 9, 13, "disgust"),    # (Subject, Filename, Onset) seen before
    ("spNO.2", "a", 5, 7, 10, "surprise"),   # in the error list: removed
    ("spNO.2", "a", 0, 0, 8, "happy"),       # in the error list: onset and apex + 1
    ("spNO.2", "f", 2, 4, 8, "disgust"),     # frame 5 is in the damaged list
    ("spNO.2", "f", 15, 17, 20, "happy"),    # frame 16 is in the bad-quality list
    ("spNO.2", "g", 3, 5, 9, "contempt"),    # no such emotion in CAS(ME)^3
]
LONG_ROWS = [
    ("spNO.1", "a", 5, 8, 12, "Micro-expression"), ("spNO.1", "a", 20, 24, 30, "Micro-expression"),
    ("spNO.1", "a", 40, 44, 50, "Micro-expression"), ("spNO.1", "a", 52, 55, 59, "Macro-expression"),
    ("spNO.1", "J", 3, 5, 9, "Micro-expression"), ("spNO.1", "c", 10, 12, 18, "Micro-expression"),
    ("spNO.2", "a", 0, 0, 8, "Micro-expression"), ("spNO.2", "h", 1, 2, 3, "Micro-expression"),
]
BLINKS = [("spNO.1", "a", 14, 17), ("spNO.1", "a", 33, 36), ("spNO.2", "g", 2, 4)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "CASME3"
    frames = root / "data" / "part_A"
    write_frames(frames, "spNO.1", "a", range(1, 61))
    write_frames(frames, "spNO.1", "j", range(1, 31))
    write_frames(frames, "spNO.1", "b", range(1, 41), depth=False)
    write_frames(frames, "spNO.1", "c", range(1, 41))
    write_frames(frames, "spNO.2", "a", range(1, 41))
    write_frames(frames, "spNO.2", "f", range(1, 31))
    write_frames(frames, "spNO.2", "g", range(1, 13))
    write_frames(frames, "spNO.2", "z", range(1, 5))  # a video no sheet names
    notes = root / "annotation"
    write_me_sheet(notes / ME_SHEET, ME_ROWS)
    write_long_sheet(notes / "CAS(ME)3_part_A_v2.xlsx", LONG_ROWS, BLINKS)
    write_error_list(notes / "casme3_partA_error_list_ZhouJu.xlsx", [
        (ME_ROWS[9], "apex脸部被手遮盖", "去除该张"),
        (ME_ROWS[10], "Onset、Apex帧不存在(0.jpg不存在，1.jpg存在)", "Onset、Apex帧均+1"),
    ])
    (notes / "error_info_damaged_image_partA.txt").write_text("spNO.2 f 5.jpg  the image cannot open\n")
    (notes / "image_with_bad_quality_partA.txt").write_text("/date/databases/casme3/RGB/spNO.2/f/color/16.jpg\n")
    return root


def test_clips_every_quirk_settled_and_reported(tree: Path) -> None:
    adapter = create_dataset("casme3", tree)
    assert adapter.data_root == tree / "data" / "part_A"  # found two levels down
    recs = {f"{r.subject}/{r.clip_id}": r for r in adapter.records()}
    assert list(recs) == ["spNO.1/a_5", "spNO.1/a_20", "spNO.1/a_40", "spNO.1/J_3", "spNO.1/b_10", "spNO.1/c_10",
                          "spNO.2/a_1", "spNO.2/f_15", "spNO.2/g_3"]
    assert recs["spNO.1/J_3"].frame_dir == adapter.data_root / "spNO.1" / "j" / "color"
    assert (recs["spNO.1/b_10"].apex_frame, recs["spNO.1/c_10"].offset_frame) == (15, 18)
    a1 = recs["spNO.2/a_1"]
    assert (a1.onset_frame, a1.apex_frame, a1.offset_frame) == (1, 1, 8)
    assert recs["spNO.1/a_40"].emotion == "others" and recs["spNO.2/g_3"].label is None
    assert any("bad-quality" in n for n in recs["spNO.2/f_15"].notes)
    assert recs["spNO.1/a_5"].load().frames.shape == (8, 16, 16, 3) and recs["spNO.1/a_5"].fps == 30.0
    issues = "\n".join(adapter.issues)
    for what in ("Filename 'J' is upper case", "emotion 'Others' read as 'others'", "Apex 5 is outside Onset..Offset 10..20",
                 "gives 10/12/18: used", "Offset 20 is not after Onset 30", "a span of 400 frames (13 s) is no micro-expression",
                 "the same Subject, Filename and Onset as row 2", "fix '去除该张'); dropped", "their fix 'Onset、Apex帧均+1' applied",
                 "5 are in the damaged-image list", "unknown emotion 'contempt'", "no depth/ folder",
                 "3 videos hold several micro-expressions (up to 3, spNO.1 a)"):
        assert what in issues, what
    report = check_dataset(adapter)
    assert report.ok and report.clips == 9 and report.labelled == 8 and report.subjects == 2
    assert report.class_counts == {"negative": 3, "positive": 3, "surprise": 1, "others": 1}
    assert report.extra_folders == [adapter.data_root / "spNO.2" / "z"]


def test_class_sets(tree: Path) -> None:
    seven = check_dataset(create_dataset("casme3", tree, classes=7), decode=False).class_counts
    assert seven == {"anger": 1, "disgust": 1, "fear": 1, "happy": 3, "sad": 0, "surprise": 1, "others": 1}
    three = check_dataset(create_dataset("casme3", tree, classes=3), decode=False)
    assert three.class_counts == {"negative": 3, "positive": 3, "surprise": 1} and three.labelled == 7
    with pytest.raises(MestiError, match="4 or 7 or 3 classes, not 5"):
        create_dataset("casme3", tree, classes=5)


def test_depth_is_read_unchanged_as_16_bit(tree: Path) -> None:
    adapter = create_dataset("casme3", tree)
    recs = {f"{r.subject}/{r.clip_id}": r for r in adapter.records()}
    depth = adapter.load_depth(recs["spNO.1/a_5"])
    assert depth is not None and depth.dtype == np.uint16 and depth.shape == (8, 16, 16)
    assert depth[:, 0, 0].tolist() == [1000 + n for n in range(5, 13)]  # above 255: nothing scaled or clipped
    assert adapter.load_depth(recs["spNO.1/b_10"]) is None  # this video has no depth/


def test_long_view_with_labelled_blinks(tree: Path) -> None:
    adapter = create_dataset("casme3", tree)
    videos = {v.video_id: v for v in adapter.videos()}
    assert sorted(videos) == ["spNO.1_J", "spNO.1_a", "spNO.1_c", "spNO.2_a"]
    a = videos["spNO.1_a"]
    assert (a.subject, a.frames, a.fps, a.path) == ("spNO.1", 60, 30.0, adapter.data_root / "spNO.1" / "a" / "color")
    assert [(i.onset, i.apex, i.offset, i.kind, i.label) for i in a.intervals] == [
        (4, 7, 11, "micro", "disgust"), (19, 23, 29, "micro", "happy"), (39, 43, 49, "micro", "others"), (51, 54, 58, "macro", "")]
    assert [(b.onset, b.offset, b.kind) for b in a.blinks] == [(13, 16, "blink"), (32, 35, "blink")]
    assert [(i.onset, i.offset) for i in videos["spNO.1_J"].intervals] == [(2, 8)]
    assert [(i.onset, i.apex, i.offset) for i in videos["spNO.2_a"].intervals] == [(0, 0, 7)]
    issues = "\n".join(adapter.issues)
    for what in ("frame 0 is before the first frame 1 of spNO.2_a", "spNO.1 J: no folder", "video spNO.2_h has no folder",
                 "1 labelled blink(s) of 1 video(s) without any expression"):
        assert what in issues, what
    long = create_dataset("casme3", tree, view="long", blink_videos="yes")
    g = {v.video_id: v for v in long.videos()}["spNO.2_g"]
    assert g.intervals == () and [(b.onset, b.offset) for b in g.blinks] == [(1, 3)]
    report = check_dataset(long)
    assert report.ok and report.class_counts == {"micro": 6, "macro": 1}


def test_bad_input_is_one_line_naming_the_file(tree: Path, tmp_path: Path) -> None:
    sheet = tree / "annotation" / ME_SHEET
    pd.DataFrame({"Subject": ["spNO.1"], "Filename": ["a"], "Onset": [5], "Offset": [9]}).to_excel(
        tmp_path / "no_apex.xlsx", sheet_name="label", index=False)
    with pytest.raises(MestiError, match=r"no_apex.xlsx: not the CAS\(ME\)\^3 part A micro-expression sheet: missing column\(s\) Apex, Emotion"):
        create_dataset("casme3", tree, sheet=tmp_path / "no_apex.xlsx").records()
    with pytest.raises(MestiError, match="nowhere.xlsx: no such file"):
        create_dataset("casme3", tree, sheet=tmp_path / "nowhere.xlsx")
    with pytest.raises(MestiError, match="no spNO.<n> subject folder"):
        create_dataset("casme3", tmp_path / "CASME3" / "annotation")
    gone = tree / "data" / "part_A" / "spNO.1" / "c"
    shutil.rmtree(gone)
    adapter = create_dataset("casme3", tree)
    c10 = next(r for r in adapter.records() if r.clip_id == "c_10")
    with pytest.raises(MestiError, match=f"missing frame\\(s\\) in {gone}/color"):
        c10.load()
    assert [f.what for f in check_dataset(adapter).missing_clips] == [f"no folder {gone}/color"]
    garbage = tmp_path / "old.xls"
    garbage.write_bytes(b"not a workbook")
    with pytest.raises(MestiError, match="old.xls: cannot read the workbook"):
        create_dataset("casme3", tree, long_sheet=garbage).videos()
    with pytest.raises(MestiError, match="old.xls: cannot read the workbook"):  # the same file given as one object
        create_dataset("casme3", tree, files=Casme3Files(long_sheet=garbage)).videos()
    with pytest.raises(MestiError, match="unknown option.*long_sheets; it takes sheet, classes, long_sheet"):
        create_dataset("casme3", tree, long_sheets=garbage)
    sheet.unlink()
    with pytest.raises(MestiError, match=r"--sheet: the CAS\(ME\)\^3 part A micro-expression sheet .* is not in"):
        create_dataset("casme3", tree).records()
    (tree / "annotation" / "CAS(ME)3_part_A_v2.xlsx").unlink()
    with pytest.raises(MestiError, match="--opt long_sheet=PATH"):
        create_dataset("casme3", tree).videos()


def test_an_xls_without_xlrd_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mesti.datasets.sheets import read_excel

    monkeypatch.setitem(sys.modules, "xlrd", None)  # import xlrd now raises ImportError
    with pytest.raises(MestiError, match=r"a.xls: reading an old Excel .xls workbook needs the xlrd package"):
        read_excel(tmp_path / "a.xls", "AU+Emotion", 0)


def test_links_out_of_the_root_are_refused(tree: Path, tmp_path: Path) -> None:
    outside = write_frames(tmp_path / "elsewhere", "x", "y", range(1, 61))
    color = tree / "data" / "part_A" / "spNO.1" / "a" / "color"
    (color / "6.jpg").unlink()
    os.symlink(outside / "6.jpg", color / "6.jpg")
    adapter = create_dataset("casme3", tree)
    a5 = next(r for r in adapter.records() if r.clip_id == "a_5")
    with pytest.raises(OutsideRootError, match="6.jpg in .* links outside the dataset root"):
        a5.load()
    report = check_dataset(adapter)  # reported, not a stop: the check goes on
    assert any("links outside" in f.what for f in report.unreadable)
    assert any("6.jpg: links outside the dataset root" in line for line in report.issues)
    with pytest.raises(OutsideRootError, match="6.jpg: links outside the dataset root"):
        adapter.videos()


def test_data_check_from_the_command_line(tree: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "check", "--dataset", "casme3", "--root", str(tree)])
    assert result.exit_code == 0, result.output
    assert "every clip of casme3 is present" in result.output
    bad = runner.invoke(app, ["data", "check", "--dataset", "casme3", "--root", str(tree), "--opt", "view=wide"])
    assert bad.exit_code == 2 and bad.output.count("error:") == 1 and "'wide' is not a CAS(ME)^3 view" in bad.output
    nothing = write_long_sheet(tmp_path / "elsewhere.xlsx", [("spNO.9", "x", 1, 2, 3, "Micro-expression")])
    none = runner.invoke(app, ["spot-eval", "--dataset", "casme3", "--root", str(tree), "--opt", f"long_sheet={nothing}",
                               "--method", "naive", "--out", str(tmp_path / "eval")])
    assert none.exit_code == 2 and none.output.count("error:") == 1, none.output
    assert "elsewhere.xlsx: no video of the sheet could be matched" in none.output
    assert not (tmp_path / "eval").exists()


@pytest.mark.slow
def test_loso_on_a_generated_copy(tmp_path: Path) -> None:
    """Tiny settings: two subjects, three classes (disgust, happy, surprise differ in motion direction)."""
    from tests.studies.study_tree import motion_frames

    root = tmp_path / "CASME3"
    rows: list[tuple[str, str, int, int, int, str]] = []
    for s in (1, 2):
        for k, (task, emotion, motion) in enumerate([("a", "disgust", "disgust"), ("b", "happy", "happiness"),
                                                     ("c", "surprise", "surprise")]):
            write_frames(root, f"spNO.{s}", task, range(5, 11), frames=motion_frames(motion, seed=10 * s + k))
            rows.append((f"spNO.{s}", task, 5, 8, 10, emotion))
    write_me_sheet(root / ME_SHEET, rows)
    out = tmp_path / "run"
    result = runner.invoke(app, ["loso", "--dataset", "casme3", "--root", str(root), "--classes", "3", "--modality", "mesti",
                                 "--model", "ststnet", "--epochs", "1", "--face", "none", "--size", "32",
                                 "--cache", str(tmp_path / "cache"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 6 and set(predictions["subject"]) == {"spNO.1", "spNO.2"}


# -- the official sheets ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The folder of the official sheets, and a copy holding one real video (spNO.1 a, 1..624)."""
    folder = annotation(f"{OFFICIAL}/{ME_SHEET}").parent
    annotation(f"{OFFICIAL}/{LONG_XLS}")
    root = tmp_path_factory.mktemp("casme3_real")
    write_frames(root, "spNO.1", "a", range(1, 625), size=8)
    return folder, root


def test_official_micro_expression_sheet(official: tuple[Path, Path]) -> None:
    folder, root = official
    df = pd.read_excel(folder / ME_SHEET, sheet_name="label")  # an independent reading
    assert len(df) == 860 and df["Subject"].nunique() == 94
    emotions = df["emotion"].value_counts().to_dict()
    assert emotions == {"disgust": 250, "surprise": 187, "others": 158, "fear": 86, "anger": 64, "sad": 57, "happy": 55, "Others": 3}
    four = Counter(label_for(e.lower(), 4) for e in df["emotion"])
    assert [four[c] for c in CLASSES_4] == [457, 55, 187, 161]
    assert sum(1 for e in df["emotion"] if label_for(e.lower(), 3) is not None) == 860 - 161
    assert set(FOUR_CLASS) == {e.lower() for e in emotions}

    adapter = create_dataset("casme3", root, sheet=folder / ME_SHEET)
    rows, issues, read = adapter._clip_table
    assert read == 860
    text = "\n".join(issues)
    assert text.count("Filename 'J' is upper case") == 1 and text.count("emotion 'Others' read as 'others'") == 3
    assert text.count("fix '去除该张'); dropped") == 15 and "spNO.216 e onset 0" in text
    assert text.count("are inconsistent;") == 4  # the 4 apexes outside onset..offset, settled from the .xls
    assert "a span of 3456 frames (115 s)" in text
    assert "191 videos hold several micro-expressions (up to 17, spNO.160 i)" in text
    recs = adapter.records()
    # 860 rows - 15 dropped by the authors' error list - 4 spans over 10 s = 841 clips of 94 subjects.
    assert len(recs) == 841 and len({r.subject for r in recs}) == 94
    assert Counter(r.label for r in recs) == {"negative": 451, "positive": 54, "surprise": 182, "others": 154}
    fixed = {(r.subject, r.clip_id): (r.onset_frame, r.apex_frame, r.offset_frame) for r in recs}
    assert fixed[("spNO.216", "d_2647")] == (2647, 2668, 2694) and fixed[("spNO.216", "e_1")] == (1, 1, 25)
    assert fixed[("spNO.149", "d_112")] == (112, 160, 358) and fixed[("spNO.40", "e_1812")] == (1812, 1824, 1845)


def test_official_all_expression_sheet_and_lists(official: tuple[Path, Path]) -> None:
    folder, root = official
    adapter = create_dataset("casme3", root, sheet=folder / ME_SHEET)
    assert adapter.paths["long_sheet"] == folder / LONG_XLS
    rows, blinks, _ = adapter._long_rows
    assert len(rows) == 4206 and Counter(r.kind for r in rows) == {"macro": 3346, "micro": 860}
    assert len({r.subject for r in rows}) == 98
    assert len(blinks) == 841 and len({b.subject for b in blinks}) == 13
    errors, damaged, bad, _ = adapter._lists
    assert len(errors) == 16 and sum(e.shift is None for e in errors.values()) == 15
    assert len(damaged) == 121 and {(s, f) for s, f, _ in damaged} == {("spNO.3", "j"), ("spNO.4", "j")}
    assert len(bad) == 964
    (video,) = adapter.videos()  # only spNO.1 a is on disk
    assert video.video_id == "spNO.1_a" and video.frames == 624
    assert [(i.onset, i.offset, i.kind, i.label) for i in video.intervals] == [
        (36, 64, "macro", ""), (267, 307, "macro", ""), (354, 359, "micro", "others"), (595, 623, "macro", "")]
    assert [(b.onset, b.offset) for b in video.blinks] == [(356, 371), (515, 530)]
    assert "eye blink row 4 (spNO.1 a): the interval 784..792 runs past the 624 frames" in "\n".join(adapter.issues)
