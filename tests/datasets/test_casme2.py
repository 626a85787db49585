"""The CASME II adapter on the official sheet and on tiny releases written at test time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook
from PIL import Image

from mesti.datasets.casme2 import CASME2, CLASSES_3, CLASSES_5
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError

# DATASETS.md, CASME II.
EMOTION_COUNTS = {"others": 99, "disgust": 63, "happiness": 32, "repression": 27, "surprise": 25, "sadness": 7, "fear": 2}
IRREGULAR = {"EP01_2", "EP08_1", "EP06_02_01", "EP06_02_02", "EP09f"}


# -- the official sheet -------------------------------------------------------------------


@pytest.fixture(scope="module")
def official(casme2_sheet: Path, tmp_path_factory: pytest.TempPathFactory) -> CASME2:
    return CASME2(tmp_path_factory.mktemp("casme2"), sheet=casme2_sheet)


def test_official_sheet_has_255_clips_of_26_subjects(official: CASME2) -> None:
    recs = official.records()
    assert len(recs) == 255
    assert len({r.subject for r in recs}) == 26
    assert {r.subject for r in recs} == {f"sub{i:02d}" for i in range(1, 27)}
    assert len({r.key for r in recs}) == 255
    assert Counter(r.emotion for r in recs) == EMOTION_COUNTS


def test_five_class_set_is_246_clips_of_26_subjects(official: CASME2) -> None:
    labelled = [r for r in official.records() if r.label is not None]
    assert len(labelled) == 246
    assert len({r.subject for r in labelled}) == 26
    assert all(r.label == r.emotion for r in labelled)
    assert official.class_names == list(CLASSES_5) == ["happiness", "disgust", "repression", "surprise", "others"]


def test_three_class_megc_mapping(casme2_sheet: Path, tmp_path: Path) -> None:
    adapter = CASME2(tmp_path, sheet=casme2_sheet, classes=3)
    counts = Counter(r.label for r in adapter.records())
    # disgust 63 + repression 27 negative; 147 clips, as DATASETS.md says the sheets give.
    assert counts == {"negative": 90, "positive": 32, "surprise": 25, None: 108}
    assert adapter.class_names == list(CLASSES_3) == ["negative", "positive", "surprise"]
    by_emotion = {r.emotion: r.label for r in adapter.records()}
    assert by_emotion["others"] is None and by_emotion["sadness"] is None and by_emotion["fear"] is None


def test_missing_apex_falls_back_to_the_middle_frame_and_is_reported(official: CASME2) -> None:
    (rec,) = [r for r in official.records() if (r.subject, r.clip_id) == ("sub04", "EP12_01f")]
    assert (rec.onset_frame, rec.offset_frame) == (261, 321)
    assert rec.apex_frame == 291
    assert any("'/'" in n and "middle" in n for n in rec.notes)
    assert any("sub04/EP12_01f" in i and "'/'" in i for i in official.issues)


def test_irregular_filenames_are_kept_and_reported(official: CASME2) -> None:
    recs = {r.clip_id: r for r in official.records()}
    assert IRREGULAR <= set(recs)
    for name in IRREGULAR:
        assert recs[name].frame_dir.name == name
        assert any("irregular filename" in n for n in recs[name].notes)
    flagged = {i.split("/")[1].split(")")[0] for i in official.issues if "irregular filename" in i}
    assert flagged == IRREGULAR
    # Everything else in the sheet is clean: exactly these quirks are reported.
    assert len(official.issues) == len(IRREGULAR) + 1


def test_records_follow_the_raw_release_layout(official: CASME2) -> None:
    rec = official.records()[0]
    assert (rec.subject, rec.clip_id, rec.onset_frame, rec.apex_frame, rec.offset_frame) == ("sub01", "EP02_01f", 46, 59, 86)
    assert rec.frame_dir == official.root / "sub01" / "EP02_01f"
    assert rec.frame_paths()[0].name == "img46.jpg" and rec.frame_paths()[-1].name == "img86.jpg"
    assert rec.action_units == "12" and rec.fps == 200.0 and rec.dataset == "casme2"


# -- tiny releases written here -----------------------------------------------------------

# (subject cell, filename, onset, apex cell, offset, AUs, emotion); the subject cell is text
# like the real sheet's ('01'), or a number, which some re-saved copies have.
TINY = [
    ("01", "EP02_01f", 46, 48, 51, 12, "happiness"),
    ("01", "EP09f", 3, "/", 8, "4+9", "Disgust "),
    (2, "EP01_2", 10, 12, 13, "1+2", "surprise"),
    ("02", "EP03_02", 5, 6, 9, 4, "others"),
]


def _write_sheet(path: Path, rows: list[tuple[object, ...]] = TINY) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion"])
    for subject, name, onset, apex, offset, aus, emotion in rows:
        ws.append([subject, name, None, onset, apex, offset, None, aus, emotion])
    wb.save(path)
    return path


def _write_frames(release_dir: Path, pattern: str) -> None:
    """Flat 12x10 JPEGs whose grey level is 4 x the frame number, so order can be checked."""
    for subject, name, onset, _, offset, _, _ in TINY:
        folder = release_dir / f"sub{int(subject):02d}" / name
        folder.mkdir(parents=True)
        for n in range(onset - 2, offset + 3):  # releases hold frames outside onset..offset too
            Image.fromarray(np.full((10, 12, 3), 4 * n, np.uint8)).save(folder / pattern.format(n=n), quality=95)


@pytest.fixture(params=["raw", "cropped"])
def release(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    folder, pattern = {"raw": ("CASME2_RAW_selected", "img{n}.jpg"), "cropped": ("Cropped", "reg_img{n}.jpg")}[request.param]
    _write_frames(tmp_path / folder, pattern)
    _write_sheet(tmp_path / "CASME2-coding-20140508.xlsx")
    return request.param, tmp_path


def _check_loaded(adapter: CASME2) -> None:
    recs = adapter.records()
    assert [(r.subject, r.clip_id) for r in recs] == [(f"sub{int(s):02d}", n) for s, n, *_ in TINY]
    for rec, (_, _, onset, apex, offset, _, _) in zip(recs, TINY, strict=True):
        clip = rec.load()
        assert clip.length == offset - onset + 1 == clip.frames.shape[0]
        levels = clip.frames[..., 0].mean(axis=(1, 2))
        np.testing.assert_allclose(levels, 4 * np.arange(onset, offset + 1), atol=2)
        expected_apex = (offset - onset) // 2 if apex == "/" else apex - onset
        assert clip.apex == expected_apex
        assert clip.subject == rec.subject and clip.dataset == "casme2"


def test_loads_frames_from_the_folder_holding_the_release(release: tuple[str, Path]) -> None:
    kind, root = release
    adapter = create_dataset("casme2", root)
    assert adapter.frames_root.name == ("Cropped" if kind == "cropped" else "CASME2_RAW_selected")
    _check_loaded(adapter)
    labels = [r.label for r in adapter.records()]
    assert labels == ["happiness", "disgust", "surprise", "others"]  # ' Disgust ' normalised


def test_loads_frames_when_root_is_the_release_folder(release: tuple[str, Path]) -> None:
    kind, root = release
    folder = root / ("Cropped" if kind == "cropped" else "CASME2_RAW_selected")
    adapter = CASME2(folder, sheet=root / "CASME2-coding-20140508.xlsx", classes=3)
    assert adapter.frame_pattern == ("reg_img{n}.jpg" if kind == "cropped" else "img{n}.jpg")
    _check_loaded(adapter)
    assert [r.label for r in adapter.records()] == ["positive", "negative", "surprise", None]


def test_tiny_sheet_quirks_are_reported(release: tuple[str, Path]) -> None:
    _, root = release
    adapter = CASME2(root)
    issues = "\n".join(adapter.issues)
    assert "sub01/EP09f" in issues and "'/'" in issues and "irregular filename 'EP09f'" in issues
    assert "irregular filename 'EP01_2'" in issues
    assert "EP02_01f" not in issues and "EP03_02" not in issues


def test_both_releases_present_uses_raw_unless_told(tmp_path: Path) -> None:
    _write_frames(tmp_path / "CASME2_RAW_selected", "img{n}.jpg")
    _write_frames(tmp_path / "Cropped", "reg_img{n}.jpg")
    _write_sheet(tmp_path / "coding.xlsx")
    raw = CASME2(tmp_path)
    assert raw.frames_root.name == "CASME2_RAW_selected"
    assert any("both" in i for i in raw.issues)
    cropped = CASME2(tmp_path, release="cropped")
    assert cropped.frames_root.name == "Cropped" and cropped.frame_pattern == "reg_img{n}.jpg"
    _check_loaded(cropped)


def test_bad_rows_are_skipped_and_reported(tmp_path: Path) -> None:
    rows = [*TINY, ("03", "EP04_01", "x", 5, 9, 4, "others"), ("03", "EP04_02", 9, 9, 5, 4, "others"),
            ("03", "EP04_03", 1, 20, 5, 4, "others"), ("03", "EP04_04", 1, 2, 5, 4, "anger")]
    adapter = CASME2(tmp_path, sheet=_write_sheet(tmp_path / "s.xlsx", rows))
    recs = {r.clip_id: r for r in adapter.records()}
    assert "EP04_01" not in recs and "EP04_02" not in recs
    assert recs["EP04_03"].apex_frame == 3 and any("outside" in n for n in recs["EP04_03"].notes)
    assert recs["EP04_04"].label is None and any("unknown Estimated Emotion" in n for n in recs["EP04_04"].notes)
    issues = "\n".join(adapter.issues)
    assert "EP04_01" in issues and "not a frame number" in issues
    assert "EP04_02" in issues and "not after" in issues


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="sheet=PATH"):
        CASME2(tmp_path)
    sheet = _write_sheet(tmp_path / "coding.xlsx")
    with pytest.raises(MestiError, match="3-class"):
        CASME2(tmp_path, classes=4)
    with pytest.raises(MestiError, match="unknown option"):
        CASME2(tmp_path, fps=100)
    with pytest.raises(MestiError, match="no such folder"):
        CASME2(tmp_path / "missing")
    with pytest.raises(MestiError, match="no such coding sheet"):
        CASME2(tmp_path, sheet=tmp_path / "nope.xlsx")
    pd.DataFrame({"Subject": [1], "Filename": ["EP01_01f"]}).to_excel(tmp_path / "bad.xlsx", index=False)
    with pytest.raises(MestiError, match="missing column"):
        CASME2(tmp_path, sheet=tmp_path / "bad.xlsx").records()
    (tmp_path / "CASME2-coding-a.xlsx").write_bytes(sheet.read_bytes())
    (tmp_path / "CASME2-coding-b.xlsx").write_bytes(sheet.read_bytes())
    with pytest.raises(MestiError, match="several coding sheets"):
        CASME2(tmp_path)


def test_missing_frames_are_named(tmp_path: Path) -> None:
    _write_sheet(tmp_path / "coding.xlsx")
    (tmp_path / "sub01" / "EP02_01f").mkdir(parents=True)
    with pytest.raises(MestiError, match="img46.jpg"):
        CASME2(tmp_path).records()[0].load()
