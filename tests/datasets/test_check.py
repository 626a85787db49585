from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.datasets.check import check_dataset, number_ranges, numbering_gaps
from mesti.datasets.registry import create_dataset
from tests.datasets.builders import (
    SAMM_SHEET,
    annotation,
    build_samm_tree,
    build_smic_tree,
    subset_samm_sheet,
    write_samm_sheet,
    write_video,
)

CLIPS = ["006_1_2", "006_3_4", "007_6_2"]
runner = CliRunner()


def run(*args: object):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


GENERATED = [("006", "006_1_2", 5562, 5570, 5575, "Anger"), ("006", "006_3_4", 639, 645, 650, "Sadness"),
             ("007", "007_6_2", 1296, 1300, 1302, "Happiness")]


@pytest.fixture(params=["official", "generated"])
def samm_copy(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """A complete copy of three SAMM clips with a sheet of just those; (SAMM folder, sheet).

    "official" cuts the real sheet down; "generated" writes one of the same structure, so
    the checks run where the official sheets are absent.
    """
    if request.param == "official":
        sheet = subset_samm_sheet(annotation(SAMM_SHEET), tmp_path / "sheet.xlsx", CLIPS)
    else:
        sheet = write_samm_sheet(tmp_path / "sheet.xlsx", GENERATED)
    return build_samm_tree(tmp_path / "data", sheet, CLIPS), sheet


def test_a_complete_copy_passes(samm_copy: tuple[Path, Path]) -> None:
    top, sheet = samm_copy
    report = check_dataset(create_dataset("samm", top.parent, sheet=sheet))
    assert report.ok and report.clips == 3 and report.labelled == 2 and report.subjects == 2
    assert report.frames_checked == sum(len(list((top / c[:3] / c).iterdir())) for c in CLIPS)
    assert report.extra_folders == [] and report.issues  # the header quirk
    res = run("data", "check", "--dataset", "samm", "--root", top.parent, "--sheet", sheet)
    assert res.exit_code == 0, res.output
    assert "OK" in res.output and "samm: data check" in res.output


def test_a_removed_frame_an_extra_folder_and_a_corrupt_frame_are_found(samm_copy: tuple[Path, Path]) -> None:
    top, sheet = samm_copy
    rec = next(r for r in create_dataset("samm", top, sheet=sheet).records() if r.clip_id == "006_1_2")
    removed = rec.onset_frame + 5
    (rec.frame_dir / f"006_{removed:05d}.jpg").unlink()
    (top / "006" / "006_9_9").mkdir()
    (top / "099").mkdir()
    corrupt = rec.frame_dir / f"006_{rec.onset_frame:05d}.jpg"
    corrupt.write_bytes(corrupt.read_bytes()[:40])

    report = check_dataset(create_dataset("samm", top, sheet=sheet), workers=2)
    assert not report.ok and report.problems == 2
    (missing,) = report.missing_frames
    assert missing.where == "samm/006/006_1_2" and f"frames {removed} " in missing.what and f"006_{removed:05d}.jpg" in missing.what
    assert [u.where for u in report.unreadable] == [str(corrupt)]
    assert report.extra_folders == [top / "006" / "006_9_9", top / "099"]
    assert report.missing_clips == []

    res = run("data", "check", "--dataset", "samm", "--root", top, "--sheet", sheet)
    assert res.exit_code == 1, res.output
    assert f"006_{removed:05d}.jpg" in res.output and "006_9_9" in res.output and "2 problem(s)" in res.output


def test_a_missing_clip_is_found_without_decoding(samm_copy: tuple[Path, Path]) -> None:
    top, sheet = samm_copy
    for f in (top / "007" / "007_6_2").iterdir():
        f.unlink()
    (top / "007" / "007_6_2").rmdir()
    report = check_dataset(create_dataset("samm", top, sheet=sheet), decode=False)
    assert [f.where for f in report.missing_clips] == ["samm/007/007_6_2"]
    assert not report.decoded and report.unreadable == []


def test_a_gap_in_a_smic_folder_is_a_missing_frame(tmp_path: Path) -> None:
    top = build_smic_tree(tmp_path, ["s01_ne_01", "s03_po_11"], frames=6, first=500)
    (top / "s3" / "micro" / "positive" / "s3_po_11" / "image502.bmp").unlink()
    (top / "s1" / "non_micro" / "s1_n_01").mkdir(parents=True)  # part of the release, not extra
    report = check_dataset(create_dataset("smic", tmp_path))
    assert len(report.missing_clips) == 164 - 2
    (gap,) = report.missing_frames
    assert gap.where == "smic/s3/s3_po_11" and gap.what.endswith(": 502")
    assert report.extra_folders == [] and report.frames_checked == 11


def test_videos_of_a_manifest_are_decoded_and_their_window_checked(tmp_path: Path) -> None:
    write_video(tmp_path / "a.avi", n_frames=8)
    (tmp_path / "b.avi").write_bytes(b"not a video")
    (tmp_path / "manifest.csv").write_text("path,subject,label,offset\na.avi,s1,x,7\nb.avi,s2,y,\nc.avi,s3,x,\na.avi,s4,y,12\n")
    report = check_dataset(create_dataset("folder", tmp_path))
    assert [f.where for f in report.missing_clips] == ["folder/s3/c"]
    assert [f.where for f in report.unreadable] == [str(tmp_path / "b.avi")]
    assert [f.what for f in report.missing_frames] == [f"offset 12 is beyond the 8 frames of {tmp_path / 'a.avi'}"]


def test_bad_input_exits_2(tmp_path: Path, samm_sheet: Path) -> None:
    res = run("data", "check", "--dataset", "samm", "--root", tmp_path / "nope", "--sheet", samm_sheet)
    assert res.exit_code == 2 and "no such folder" in res.output
    res = run("data", "check", "--dataset", "samm", "--root", tmp_path, "--sheet", samm_sheet, "--classes", "4")
    assert res.exit_code == 2 and "5 or 3 classes" in res.output
    res = run("data", "check", "--dataset", "nope", "--root", tmp_path)
    assert res.exit_code == 2 and "unknown dataset" in res.output
    res = run("data", "check", "--dataset", "composite", "--root", tmp_path, "--opt", "samm_root")
    assert res.exit_code == 2 and "KEY=VALUE" in res.output


def test_data_list_names_every_adapter() -> None:
    res = run("data", "list")
    assert res.exit_code == 0
    for name in ("casme2", "samm", "smic", "composite", "folder", "images"):
        assert name in res.output


def test_number_helpers() -> None:
    assert number_ranges([7, 1, 2, 3, 9, 10]) == "1-3, 7, 9-10"
    assert numbering_gaps([Path(f"image{n}.bmp") for n in (8, 9, 12)]) == [10, 11]
    assert numbering_gaps([Path("a1.png"), Path("b3.png")]) == []  # not one numbering
    assert numbering_gaps([Path("x.png"), Path("y.png")]) == []
