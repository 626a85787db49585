"""Long-video adapters on sheets built in the documented formats, and what they refuse or report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook
from PIL import Image

from mesti.datasets.check import check_dataset
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError


def _frames(folder: Path, n: int, name: str = "img{n}.jpg", first: int = 1) -> None:
    folder.mkdir(parents=True)
    for k in range(first, first + n):
        Image.fromarray(np.full((8, 8, 3), k % 255, np.uint8)).save(folder / name.format(n=k))


def _samm_sheet(path: Path, rows: list[list[object]]) -> None:
    wb = Workbook()
    ws = wb.active
    for i in range(10):
        ws.append([f"preamble {i}"] if i % 3 == 0 else [])
    ws.append(["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units", "Notes"])
    for r in rows:
        ws.append(r)
    wb.save(path)


def test_samm_long_sheet_and_what_it_cannot_match(tmp_path: Path) -> None:
    root = tmp_path / "SAMM_long"
    _frames(root / "SAMM_longvideos" / "006_1", 50, "006_1_{n:05d}.jpg")
    _frames(root / "SAMM_longvideos" / "007_2", 30, "007_2_{n:05d}.jpg")
    _samm_sheet(root / "SAMM_LongVideos_V3_Release.xlsx", [
        ["006", "006_1_1", 1, 5, 8, 12, 8, "Micro - 1/2", "4", ""],
        ["006", "006_1_2", 1, 20, 30, 45, 26, "Macro", "12", ""],
        ["006", "006_1_3", 1, 40, 42, 44, 5, "Micro - 1/2", "4", "overlaps the macro"],
        ["007", "007_2_1", 2, 25, 28, 31, 7, "Micro - 1/2", "1+2", "runs past frame 30"],
        ["007", "007_2_2", 2, 9, 8, 3, 7, "Macro", "1", "reversed"],
        ["008", "008_1_1", 1, 5, 6, 7, 3, "Micro - 1/2", "1", "no folder"],
        ["007", "007_2_3", 2, 1, 2, 3, 3, "Blink", "", "unknown type"],
    ])
    adapter = create_dataset("samm-long", root)
    videos = {v.video_id: v for v in adapter.videos()}
    assert videos["006_1"].fps == 200.0
    # the micro-expression inside the macro is kept: MEGC counts every interval (issue 22 D11)
    assert [(i.onset, i.apex, i.offset, i.kind) for i in videos["006_1"].intervals] == [
        (4, 7, 11, "micro"), (19, 29, 44, "macro"), (39, 41, 43, "micro")]
    assert videos["007_2"].intervals == ()
    issues = "\n".join(adapter.issues)
    for what in ("runs past the 30 frames", "reversed", "neither Micro nor Macro"):
        assert what in issues
    assert "overlaps" not in issues
    (missing,) = adapter.missing_videos
    assert missing.video_id == "008_1" and "no folder" in missing.missing
    report = check_dataset(adapter)  # a video of the sheet without its folder is missing (D12)
    assert not report.ok and report.clips == 3 and report.class_counts == {"micro": 2, "macro": 1}
    assert [f.where for f in report.missing_clips] == ["samm-long/008/008_1"]


def test_casme_square_naming_rules(tmp_path: Path) -> None:
    root = tmp_path / "CASME_sq"
    _frames(root / "rawpic" / "s15" / "15_0101disgustingteeth", 40)
    wb = Workbook()
    main = wb.active
    main.append([1, "disgust1_1", 3, 5, 9, "4", "disgust", "micro-expression", "disgust"])
    main.append([1, "disgust1_2", 15, 20, 0, "4+9", "disgust", "macro-expression", "disgust"])
    main.append([2, "anger1_1", 3, 5, 9, "4", "anger", "micro-expression", "anger"])
    rule1 = wb.create_sheet("naming rule1")
    rule1.append([1, "s15"])
    rule2 = wb.create_sheet("naming rule2")
    rule2.append(["0101", "disgust1"])
    wb.save(root / "CAS(ME)^2code_final(Updated).xlsx")
    adapter = create_dataset("casme-sq", root)
    (video,) = adapter.videos()
    assert video.video_id == "15_0101disgustingteeth" and video.subject == "s15" and video.fps == 30.0
    assert [(i.onset, i.apex, i.offset, i.kind) for i in video.intervals] == [(2, 4, 8, "micro"), (14, 19, 19, "macro")]
    issues = "\n".join(adapter.issues)
    assert "offset not annotated" in issues and "participant 2 is not in the naming-rule sheets" in issues


def _manifest(root: Path, videos: str, intervals: str) -> None:
    (root / "videos.csv").write_text(videos)
    (root / "intervals.csv").write_text(intervals)


def test_long_manifest_reads_and_refuses(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    _frames(root / "rec1", 60)
    _manifest(root, "video,subject,fps\nrec1,p1,30\n",
              "video,onset,apex,offset,type,label\nrec1,2,4,8,,smile\nrec1,20,30,50,macro,\n")
    (video,) = create_dataset("long-manifest", root).videos()
    assert [(i.onset, i.offset, i.kind, i.label) for i in video.intervals] == [(2, 8, "micro", "smile"), (20, 50, "macro", "")]
    bad = {
        "given twice": "video,onset,apex,offset,type\nrec1,2,4,8,micro\nrec1,2,5,8,micro\n",
        "apex 9 is outside": "video,onset,apex,offset,type\nrec1,2,9,8,micro\n",
        "runs past the 60 frames": "video,onset,apex,offset,type\nrec1,50,55,60,micro\n",
        "reversed": "video,onset,apex,offset,type\nrec1,9,5,3,micro\n",
        "not in videos.csv": "video,onset,apex,offset,type\nrec9,1,2,3,micro\n",
    }
    for what, intervals in bad.items():
        _manifest(root, "video,subject,fps\nrec1,p1,30\n", intervals)
        with pytest.raises(MestiError, match=what):
            create_dataset("long-manifest", root).videos()
    _manifest(root, "video,subject,fps\nrec1,p1,\n", "video,onset,apex,offset\n")
    with pytest.raises(MestiError, match="fps is required"):
        create_dataset("long-manifest", root).videos()


def test_a_casme_square_sheet_without_its_naming_sheets_says_so(tmp_path: Path) -> None:
    # Hostile pass of issue 22: a valid workbook lacking the "naming rule" sheets was called
    # "not a readable Excel workbook (damaged, or another format under this name)".
    root = tmp_path / "CASME_sq"
    _frames(root / "rawpic" / "s15" / "15_0101disgustingteeth", 10)
    wb = Workbook()
    wb.active.append([1, "disgust1_1", 3, 5, 9, "4", "disgust", "micro-expression", "disgust"])
    wb.save(root / "CAS(ME)^2code_final(Updated).xlsx")
    with pytest.raises(MestiError) as err:
        create_dataset("casme-sq", root).videos()
    assert "has no worksheet 2 (counted from 1; 1 worksheets found)" in str(err.value)
    assert "not a readable" not in str(err.value)
