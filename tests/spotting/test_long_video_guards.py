"""Issue 22 on long videos: the clip adapters' guards (duplicates, leakage, links out of the root),
missing videos in `data check`, overlapping truth kept, truncated and too-short videos said,
predictions past a video's end refused, the frame-size guard on video files, quiet warnings."""

from __future__ import annotations

import csv
import json
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook
from PIL import Image
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.clips.intervals import Interval
from mesti.clips.io import MAX_FRAME_PIXELS_ENV, load_video
from mesti.clips.stream import open_stream
from mesti.datasets.check import check_dataset
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.spotting.learned import LearnedModel, candidates, loso_spot
from mesti.spotting.motion import RegionMotion
from mesti.synth.long import LongSynthResult
from tests.datasets.builders import write_video

runner = CliRunner()


def _frames(folder: Path, n: int, name: str = "img{n}.jpg", first: int = 1) -> Path:
    folder.mkdir(parents=True)
    for k in range(first, first + n):
        Image.fromarray(np.full((8, 8, 3), k % 255, np.uint8)).save(folder / name.format(n=k))
    return folder


def _samm_sheet(path: Path, rows: list[list[object]]) -> None:
    wb = Workbook()
    ws = wb.active
    for i in range(10):
        ws.append([f"preamble {i}"] if i % 3 == 0 else [])
    ws.append(["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units", "Notes"])
    for r in rows:
        ws.append(r)
    wb.save(path)


def _manifest(root: Path, videos: str, intervals: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "videos.csv").write_text(videos)
    (root / "intervals.csv").write_text(intervals)
    return root


def _samm_copy(long_set: LongSynthResult, dest: Path) -> Path:
    shutil.copytree(long_set.path, dest)
    return dest


# -- D4: one long video listed twice --------------------------------------------------------------


def test_a_samm_long_video_under_two_subjects_is_refused(tmp_path: Path, long_set: LongSynthResult) -> None:
    root = _samm_copy(long_set, tmp_path / "set")
    sheet = root / "SAMM_LongVideos_V3_Release.xlsx"
    _samm_sheet(sheet, [["001", "001_1_1", 1, 77, 82, 87, 11, "Micro - 1/2", "4", "disgust"],
                        ["002", "002_1_1", 1, 41, 72, 98, 58, "Macro", "17", "repression"],
                        ["002", "001_1_2", 1, 235, 256, 277, 43, "Macro", "4", "repression"]])  # 002 names 001's video
    with pytest.raises(MestiError, match=r"row 14.*001_1 is also .*row 12: one long video listed twice \(under subjects 001 and 002"):
        create_dataset("samm-long", root, fps=30).videos()
    check = runner.invoke(app, ["data", "check", "--dataset", "samm-long", "--root", str(root), "--opt", "fps=30"])
    assert check.exit_code == 2 and "listed twice" in check.output
    res = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(root), "--opt", "fps=30", "--method", "learned",
                              "--out", str(tmp_path / "eval")])
    assert res.exit_code == 2 and "listed twice" in res.output and not (tmp_path / "eval").exists()


def test_a_long_manifest_video_spelled_two_ways_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    write_video(root / "a.avi", 40)
    _manifest(root, "video,subject,fps\na.avi,p1,25\n./a.avi,p2,25\n", "video,onset,apex,offset,type\na.avi,2,4,8,micro\n")
    with pytest.raises(MestiError, match="line 3.*a.avi is also line 2: one long video listed twice"):
        create_dataset("long-manifest", root).videos()
    # intervals may name the video either way: both spell one file
    _manifest(root, "video,subject,fps\na.avi,p1,25\n", "video,onset,apex,offset,type\n./a.avi,2,4,8,micro\n")
    (video,) = create_dataset("long-manifest", root).videos()
    assert [(i.onset, i.offset) for i in video.intervals] == [(2, 8)]


def test_two_long_videos_of_one_name_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    write_video(root / "p1" / "rec.avi", 30)
    write_video(root / "p2" / "rec.avi", 30)
    _manifest(root, "video,subject,fps\np1/rec.avi,p1,25\np2/rec.avi,p2,25\n", "video,onset,apex,offset\n")
    with pytest.raises(MestiError, match="two videos are named rec"):
        create_dataset("long-manifest", root).videos()


def _motion(name: str, values: np.ndarray) -> RegionMotion:
    return RegionMotion(name, 30.0, 5, values.astype(np.float32))


def test_learned_loso_refuses_the_same_video_under_another_subject() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random((60, 8)), rng.random((60, 8))
    truth = [[Interval(10, 12, 14, "micro")], [Interval(30, 32, 34, "micro")], [Interval(10, 12, 14, "micro")]]
    with pytest.raises(MestiError, match=r"fold learned-s1: test sample a.avi is identical to training sample copy.avi"):
        loso_spot([_motion("a.avi", a), _motion("b.avi", b), _motion("copy.avi", a)], truth, ["s1", "s2", "s3"])
    results, folds = loso_spot([_motion("a.avi", a), _motion("b.avi", b)], truth[:2], ["s1", "s2"])
    assert len(results) == 2 and folds == {"s1": ("s2",), "s2": ("s1",)}
    # videos with no measured motion at all carry nothing to learn: never taken for copies
    empty = np.full((60, 8), np.nan)
    loso_spot([_motion("x", empty), _motion("y", empty), _motion("b.avi", b)], truth, ["s1", "s2", "s3"])


# -- D5: links out of the root --------------------------------------------------------------------


def test_samm_long_frames_linking_out_of_the_root_are_refused(tmp_path: Path, long_set: LongSynthResult) -> None:
    root = _samm_copy(long_set, tmp_path / "set")
    outside = tmp_path / "outside"
    shutil.move(root / "SAMM_longvideos" / "002_1", outside)
    (root / "SAMM_longvideos" / "002_1").symlink_to(outside, target_is_directory=True)
    adapter = create_dataset("samm-long", root, fps=30)
    report = check_dataset(adapter, decode=False)
    assert not report.ok and any("links outside the dataset root" in f.what for f in report.unreadable)
    res = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(root), "--opt", "fps=30", "--method", "naive",
                              "--out", str(tmp_path / "eval")])
    assert res.exit_code == 2 and "links outside the dataset root" in res.output and not (tmp_path / "eval").exists()


def test_one_linked_frame_outside_every_expression_is_still_found(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    _frames(root / "rec1", 60)
    outside = _frames(tmp_path / "outside", 1, first=59)
    (root / "rec1" / "img59.jpg").unlink()
    (root / "rec1" / "img59.jpg").symlink_to(outside / "img59.jpg")
    _manifest(root, "video,subject,fps\nrec1,p1,30\n", "video,onset,apex,offset,type\nrec1,2,4,8,micro\n")
    adapter = create_dataset("long-manifest", root)
    report = check_dataset(adapter)
    assert [f.what for f in report.unreadable if "links outside" in f.what], report.unreadable
    (video,) = adapter.videos()
    with pytest.raises(MestiError, match="img59.jpg .* links outside the dataset root"):
        video.open()


def test_a_long_manifest_video_file_linking_out_is_refused(tmp_path: Path) -> None:
    video = write_video(tmp_path / "outside" / "v.avi", 20)
    root = tmp_path / "mine"
    root.mkdir()
    (root / "v.avi").symlink_to(video)
    _manifest(root, "video,subject,fps\nv.avi,p1,25\n", "video,onset,apex,offset\n")
    with pytest.raises(MestiError, match="links outside"):
        create_dataset("long-manifest", root).videos()


# -- D11, D32: overlapping truth kept; an apex outside refused in a user's file --------------------


def test_overlapping_intervals_are_kept_and_each_counts(tmp_path: Path) -> None:
    from mesti.spotting.evaluate import evaluate_spotting

    root = tmp_path / "mine"
    _frames(root / "rec1", 80)
    _manifest(root, "video,subject,fps\nrec1,p1,30\n",
              "video,onset,apex,offset,type\nrec1,10,30,60,macro\nrec1,20,22,25,micro\n")
    (video,) = create_dataset("long-manifest", root).videos()
    assert [(i.onset, i.offset, i.kind) for i in video.intervals] == [(10, 60, "macro"), (20, 25, "micro")]
    table = evaluate_spotting({"rec1": [Interval(10, 30, 60, "macro")]}, {"rec1": list(video.intervals)}).table()
    assert (table["overall"]["tp"], table["overall"]["fn"]) == (1, 1)  # the micro inside is a miss, not forgotten


def test_an_apex_outside_its_interval_is_refused_in_a_user_file(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    _frames(root / "rec1", 80)
    _manifest(root, "video,subject,fps\nrec1,p1,30\n", "video,onset,apex,offset,type\nrec1,10,70,20,micro\n")
    with pytest.raises(MestiError, match="intervals.csv line 2: apex 70 is outside onset..offset 10..20"):
        create_dataset("long-manifest", root).videos()
    _manifest(root, "video,subject,fps\nrec1,p1,30\n", "video,onset,apex,offset,type\nrec1,10,x,20,micro\n")
    with pytest.raises(MestiError, match="apex 'x' must be a whole frame number"):
        create_dataset("long-manifest", root).videos()


# -- D12: a missing or ambiguous long-video folder is a missing clip in data check ----------------


def test_casme_square_ambiguous_or_missing_folders_fail_data_check(tmp_path: Path) -> None:
    root = tmp_path / "CASME_sq"
    _frames(root / "rawpic" / "s15" / "15_0101disgustingteeth", 40)
    _frames(root / "rawpic" / "s15" / "15_0102eatingworm", 40)
    _frames(root / "rawpic" / "s15" / "15_0102eatingworm_copy", 40)
    wb = Workbook()
    main = wb.active
    main.append([1, "disgust1_1", 3, 5, 9, "4", "disgust", "micro-expression", "disgust"])
    main.append([1, "disgust2_1", 3, 5, 9, "4", "disgust", "micro-expression", "disgust"])
    main.append([1, "anger1_1", 3, 5, 9, "4", "anger", "micro-expression", "anger"])
    wb.create_sheet("naming rule1").append([1, "s15"])
    rule2 = wb.create_sheet("naming rule2")
    for row in (["0101", "disgust1"], ["0102", "disgust2"], ["0401", "anger1"]):
        rule2.append(row)
    wb.save(root / "CAS(ME)^2code_final(Updated).xlsx")
    adapter = create_dataset("casme-sq", root)
    assert [v.video_id for v in adapter.videos()] == ["15_0101disgustingteeth"]
    report = check_dataset(adapter)
    assert not report.ok and len(report.missing_clips) == 2
    whys = " | ".join(f.what for f in report.missing_clips)
    assert "2 folders match" in whys and "ambiguous" in whys and "no folder" in whys
    res = runner.invoke(app, ["data", "check", "--dataset", "casme-sq", "--root", str(root)])
    assert res.exit_code == 1 and "OK: every clip" not in res.output and "ambiguous" in res.output


# -- D15, D22: truncated and too-short videos are said --------------------------------------------


@pytest.fixture()
def truncated_set(tmp_path: Path) -> Path:
    root = tmp_path / "mine"
    whole = write_video(tmp_path / "whole.avi", 150, size=(64, 48), fps=25)
    data = whole.read_bytes()
    root.mkdir()
    (root / "v.avi").write_bytes(data[: int(len(data) * 0.5)])  # the header still declares 150 frames
    _manifest(root, "video,subject,fps\nv.avi,p1,25\n", "video,onset,apex,offset,type\nv.avi,5,8,10,micro\nv.avi,130,135,140,micro\n")
    return root


def test_a_truncated_long_video_is_said_by_spot_and_spot_eval(truncated_set: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["spot", str(truncated_set / "v.avi"), "--method", "naive", "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert "ends early" in res.output and "of the 150 frames its header declares" in res.output
    out = tmp_path / "eval"
    res = runner.invoke(app, ["spot-eval", "-d", "long-manifest", "--root", str(truncated_set), "--method", "naive",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    warned = json.loads((out / "summary.json").read_text())["warnings"]
    assert any("ends early" in w for w in warned)
    assert any("1 true interval(s) lie past frame" in w and "130-140" in w and "count as missed" in w for w in warned)


def test_a_video_too_short_for_the_method_is_said(tmp_path: Path, long_root: Path) -> None:
    folder = _frames(tmp_path / "short", 20)
    res = runner.invoke(app, ["spot", str(folder), "--fps", "30", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "too short for the method" in res.output and not (tmp_path / "o").exists()
    res = runner.invoke(app, ["spot", str(long_root / "SAMM_longvideos" / "001_1"), "--fps", "200", "--out",
                              str(tmp_path / "o")])  # a wrong rate: 360 frames are 1.8 s at 200 fps
    assert res.exit_code == 2 and "1.80 s at 200 fps" in res.output and "is --fps right?" in res.output
    root = tmp_path / "mine"
    _frames(root / "rec1", 20)
    _manifest(root, "video,subject,fps\nrec1,p1,30\n", "video,onset,apex,offset,type\nrec1,2,4,8,micro\n")
    assert not create_dataset("long-manifest", root).videos()[0].intervals == ()
    from mesti.spotting.run import spot_videos

    with pytest.raises(MestiError, match="no face found"):  # too short is a note; the video then has no face
        spot_videos(create_dataset("long-manifest", root).videos(), "flow")
    (result,), _, _ = spot_videos(create_dataset("long-manifest", root).videos(), "naive")
    assert result.notes == []  # naive compares nearby frames only: 20 frames are enough for it


# -- D29: predictions past a video's end ----------------------------------------------------------


def test_predictions_past_the_end_of_a_video_are_refused(tmp_path: Path, long_set: LongSynthResult) -> None:
    preds = tmp_path / "preds.csv"
    preds.write_text("video,onset,apex,offset,type\n001_1,10,12,14,micro\n002_1,350,355,360,micro\n")
    res = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                              "--predictions", str(preds), "--out", str(tmp_path / "eval")])
    assert res.exit_code == 2 and "preds.csv line 3" in res.output and "runs past the 360 frames of video 002_1" in res.output
    assert not (tmp_path / "eval").exists()


# -- the MEGC per-video format, written and read --------------------------------------------------


def test_spot_eval_writes_megc_files_and_reads_them_back(tmp_path: Path, long_set: LongSynthResult) -> None:
    out = tmp_path / "eval"
    res = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                              "--method", "naive", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "megc").iterdir()) == ["001_1.csv", "002_1.csv"]
    with open(out / "megc" / "001_1.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["onset", "offset", "type", "class"] and all(r["class"] == "" for r in rows)
    again = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                                "--predictions", str(out / "megc"), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    first, second = (json.loads((d / "summary.json").read_text())["scores"] for d in (out, tmp_path / "again"))
    assert first == second
    (out / "megc" / "002_1.csv").unlink()  # a video without a file: nothing spotted, and said
    third = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                                "--predictions", str(out / "megc"), "--out", str(tmp_path / "third")])
    assert third.exit_code == 0 and "002_1: no predictions file 002_1.csv" in third.output
    (out / "megc" / "003_1.csv").write_text("onset,offset,type,class\n1,2,me,\n")
    fourth = runner.invoke(app, ["spot-eval", "-d", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                                 "--predictions", str(out / "megc"), "--out", str(tmp_path / "fourth")])
    assert fourth.exit_code == 2 and "003_1.csv line 2" in fourth.output and "not in the dataset" in fourth.output


# -- D14: the frame-size guard on video files -----------------------------------------------------


def test_video_frames_above_the_limit_are_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "v.avi", 10, size=(64, 48))
    monkeypatch.setenv(MAX_FRAME_PIXELS_ENV, "1000")
    for read in (open_stream, load_video):
        with pytest.raises(MestiError, match="video frame of 64x48 pixels is above the limit of 1,000 pixels"):
            read(video)
    res = runner.invoke(app, ["spot", str(video), "--method", "naive", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--allow-large-frames" in res.output
    monkeypatch.setenv(MAX_FRAME_PIXELS_ENV, "0")
    assert open_stream(video).count == 10



class _CountingCapture:
    """A real ``cv2.VideoCapture`` that records every call that decodes a frame."""

    decoded: list[str] = []

    def __init__(self, *args: object) -> None:
        self._cap = _REAL_CAPTURE(*args)

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._cap, name)
        if name in ("read", "grab", "retrieve"):
            def counted(*a: object, **k: object) -> object:
                _CountingCapture.decoded.append(name)
                return attr(*a, **k)
            return counted
        return attr


_REAL_CAPTURE = __import__("cv2").VideoCapture


def test_the_frame_size_refusal_comes_before_any_frame_is_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 22 D14: the container's frame size is read first; not one frame is decoded
    # (read, grab or retrieve) by any reader of video files when it is above the limit.
    import cv2

    video = write_video(tmp_path / "v.avi", 10, size=(64, 48))
    monkeypatch.setattr(cv2, "VideoCapture", _CountingCapture)
    monkeypatch.setattr(_CountingCapture, "decoded", [])
    monkeypatch.setenv(MAX_FRAME_PIXELS_ENV, "1000")
    for read in (load_video, lambda v: list(open_stream(v))):
        with pytest.raises(MestiError, match="above the limit of 1,000 pixels"):
            read(video)
    for cmd in (["spot", str(video), "--method", "naive", "--out", str(tmp_path / "o")],
                ["spot", str(video), "--out", str(tmp_path / "f")]):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 2 and "above the limit" in res.output
    assert _CountingCapture.decoded == []
    assert not (tmp_path / "o").exists() and not (tmp_path / "f").exists()
    monkeypatch.setenv(MAX_FRAME_PIXELS_ENV, "0")  # the counter counts: without the limit frames are read
    assert load_video(video).frames.shape[0] == 10 and "read" in _CountingCapture.decoded

# -- D30: no library warnings reach the user ------------------------------------------------------


def test_the_learned_features_are_quiet_on_one_or_two_frames() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in (1, 2):
            found = candidates(_motion("tiny", np.full((n, 8), np.nan)))
            assert np.isfinite(found.x).all() and len(found.x) == len(found.intervals)


def test_a_refused_pickle_is_one_message_and_no_torch_warning(tmp_path: Path) -> None:
    bad = tmp_path / "model.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"state": print}, fh, protocol=4)
    with warnings.catch_warnings(record=True) as seen:  # recorded, not raised: load() catches what torch raises
        warnings.simplefilter("always")
        with pytest.raises(MestiError, match="not a learned-spotter model"):
            LearnedModel.load(bad)
    assert [str(w.message) for w in seen] == []


# -- D21: one seconds convention in every output --------------------------------------------------


def test_spot_and_analyze_write_the_same_seconds_for_an_interval() -> None:
    from mesti.reports.analysis import interval_rows
    from mesti.reports.html import ReportInterval
    from mesti.spotting.output import intervals_csv
    from mesti.spotting.result import SpotResult

    iv = Interval(30, 36, 44, "micro", 0.5)
    spot = SpotResult("v.avi", "flow", 30.0, 100, [iv], np.zeros(100), 1.0, {})
    (row,) = csv.DictReader(intervals_csv([spot]).splitlines())
    (analyzed,) = interval_rows([ReportInterval(30, 36, 44, "micro", 0.5)], 30.0, ["a"])
    assert float(row["onset_s"]) == analyzed["onset_s"] == 1.0
    assert float(row["offset_s"]) == analyzed["offset_s"] == 1.5  # the end of frame 44: 15 frames last 0.5 s


def test_an_unreadable_video_folder_is_missing_not_fatal(tmp_path: Path, long_set: LongSynthResult) -> None:
    root = _samm_copy(long_set, tmp_path / "set")
    for p in (root / "SAMM_longvideos" / "002_1").iterdir():
        p.unlink()
    adapter = create_dataset("samm-long", root, fps=30)
    assert [v.video_id for v in adapter.videos()] == ["001_1"]
    report = check_dataset(adapter, decode=False)
    assert not report.ok and [f.where for f in report.missing_clips] == ["samm-long/002/002_1"]
    assert "holds no image frames" in report.missing_clips[0].what
