"""`mesti analyze` and `mesti.analyze`: spot, classify each interval from the stream, report."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import mesti
from mesti.analysis import Analysis
from mesti.analysis.frames import IntervalFrames
from mesti.analysis.truth import score_video, truth_class
from mesti.cli.main import app
from mesti.clips.stream import open_stream
from mesti.clips.intervals import Interval
from mesti.synth.long import LongSynthResult, generate_long_videos
from mesti.engine.config import TrainConfig
from mesti.bundle.train import train_bundle
from mesti.studies.inputs import load_samples
from tests.studies.study_tree import study_of, write_study_tree

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = write_study_tree(tmp_path_factory.mktemp("casme2"))
    inputs = load_samples(study_of("casme2", tree, modality="mesti", classes=3, size=32, face="none",
                                 cache=tmp_path_factory.mktemp("cache")))
    out = tmp_path_factory.mktemp("b") / "bundle"
    train_bundle(inputs, "meganet", TrainConfig(epochs=1, device="cpu"), out, img_size=32, command="mesti train (test)")
    return out


@pytest.fixture(scope="module")
def long_set(tmp_path_factory: pytest.TempPathFactory) -> LongSynthResult:
    return generate_long_videos(tmp_path_factory.mktemp("long") / "set", subjects=1, videos_per_subject=1, seconds=12,
                                fps=30, size=96, seed=3)


@pytest.fixture(scope="module")
def video(long_set: LongSynthResult) -> Path:
    return long_set.path / "SAMM_longvideos" / "001_1"


def _blocks(page: str) -> int:
    return len(re.findall(r'<section class="interval"', page))


def test_analyze_end_to_end_writes_every_output(bundle: Path, video: Path, tmp_path: Path) -> None:
    out = tmp_path / "analysis"
    res = runner.invoke(app, ["analyze", str(video), "--model", str(bundle), "--out", str(out), "--fps", "30"])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert {p.name for p in out.iterdir()} == {"intervals.csv", "intervals.json", "timeline.png", "report.html", "megc"}
    data = json.loads((out / "intervals.json").read_text())
    rows = data["intervals"]
    with open(out / "megc" / "001_1.csv", newline="") as fh:  # the MEGC 2023-2025 per-video file (issue 20 item 5)
        megc = list(csv.DictReader(fh))
    assert [(int(m["onset"]), int(m["offset"]), m["type"], m["class"]) for m in megc] == [
        (r["onset"], r["offset"], r["type"], r["prediction"]) for r in rows]
    assert rows, "the synthetic video holds expressions; some must be spotted"
    assert data["classes"] == ["negative", "positive", "surprise"] and data["timings_s"]["spotting"] > 0
    for row in rows:
        probs = [row[f"prob_{c}"] for c in data["classes"]]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert row["prediction"] == data["classes"][int(np.argmax(probs))]
        assert row["onset"] <= row["apex"] <= row["offset"] and row["type"] in ("micro", "macro")
        assert row["onset_s"] == pytest.approx(row["onset"] / 30, abs=1e-3)
    with open(out / "intervals.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(rows)
    page = (out / "report.html").read_text()
    assert _blocks(page) == len(rows)
    assert page.count('alt="gradient attention"') == len(rows)  # MEGANet: one attention map per interval
    assert "http://" not in page and "https://" not in page
    Image.open(out / "timeline.png").verify()


def test_interval_frames_are_read_without_holding_the_video(bundle: Path, video: Path) -> None:
    model = mesti.load_model(bundle)
    analysis = mesti.analyze(video, model, fps=30)
    longest = max(iv.offset - iv.onset + 1 for iv in analysis.intervals)
    assert 0 < analysis.frames_held <= longest < analysis.spot.frames // 4
    # Cropped frame by frame from the stream, an interval is classified as the whole clip would be.
    iv = analysis.intervals[0]
    whole = np.stack([f for n, f in zip(range(iv.offset + 1), open_stream(video, 30), strict=False) if n >= iv.onset])
    direct = model.predict(mesti.Clip(whole, 0, iv.apex - iv.onset, len(whole) - 1, fps=30))
    assert direct.probabilities == pytest.approx(iv.probabilities, abs=1e-6)
    # The reader alone: overlapping intervals each keep their frames; reading stops after the last offset.
    frames = (np.full((4, 4, 3), i, np.uint8) for i in range(1000))
    ivs = [Interval(10, 12, 20, "micro"), Interval(15, 16, 25, "micro"), Interval(40, 41, 44, "micro")]
    reader = IntervalFrames(frames, ivs)
    read = {i: (f, apex) for i, f, apex in reader}
    got = {i: f for i, (f, _) in read.items()}
    assert [int(read[i][1][0, 0, 0]) for i in range(3)] == [12, 16, 41]  # the apex frames
    assert [int(got[i][0, 0, 0, 0]) for i in range(3)] == [10, 15, 40]
    assert [len(got[i]) for i in range(3)] == [11, 11, 5]
    assert reader.max_held == 17 and next(frames)[0, 0, 0] == 45  # 10..20 and 15..20 at frame 20; nothing past 44


@pytest.mark.parametrize("face", ["none", "dlib-hog"])
def test_frames_cropped_from_the_stream_are_what_preprocessing_makes(video: Path, face: str) -> None:
    from mesti.pipeline import encoding_pipeline
    from mesti.preprocessing import PreprocessConfig, preprocess_clip

    iv = Interval(60, 65, 75, "micro")
    pre = {"face": face, "size": 48, "equalize": "off"}
    crop_for = encoding_pipeline("mesti", {}, PreprocessConfig(**pre)).crop_for(str(video))
    assert crop_for is not None
    [(_, crops, apex)] = list(IntervalFrames(open_stream(video, 30), [iv], crop_for))
    whole = np.stack([f for n, f in zip(range(iv.offset + 1), open_stream(video, 30), strict=False) if n >= iv.onset])
    config = PreprocessConfig(**pre)
    expected = preprocess_clip(mesti.Clip(whole, 0, 5, len(whole) - 1), config)
    assert crops.shape == (16, 48, 48, 3) and np.array_equal(crops, expected.frames)
    assert np.array_equal(apex, whole[5])


def test_api_returns_intervals_and_pictures(bundle: Path, video: Path, long_set: LongSynthResult, tmp_path: Path) -> None:
    from mesti.datasets.samm_long import SAMMLong

    sheet = next(long_set.path.glob("*.xlsx"))
    analysis = mesti.analyze(video, bundle, method="flow", fps=30, truth=sheet)
    truth = SAMMLong(long_set.path, fps=30).videos()[0].intervals
    assert analysis.truth == list(truth) and analysis.scores is not None
    assert analysis.scores.spot_tp + analysis.scores.spot_fn == len(truth)
    assert analysis.scores.spot_tp + analysis.scores.spot_fp == len(analysis.intervals)
    assert isinstance(analysis, Analysis)
    iv = analysis.intervals[0]
    assert iv.label in analysis.classes and iv.apex_frame is not None and iv.apex_frame.dtype == np.uint8
    assert iv.image is not None and iv.attention is not None and iv.attention.shape == (32, 32)
    assert set(analysis.timings) == {"spotting", "encoding", "classification"}
    assert (analysis.write(tmp_path / "out") / "report.html").is_file()


def test_nothing_spotted_is_a_valid_empty_report(bundle: Path, video: Path, tmp_path: Path) -> None:
    still = tmp_path / "still"
    still.mkdir()
    first = sorted(video.iterdir())[0]
    for i in range(140):  # 4.7 s of one frame: a face that never moves (longer than flow's 4.2 s lag)
        shutil.copy(first, still / f"f_{i:05d}.jpg")
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(still), "--model", str(bundle), "--out", str(out), "--fps", "30"])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert json.loads((out / "intervals.json").read_text())["intervals"] == []
    page = (out / "report.html").read_text()
    assert 'id="nothing-spotted"' in page and _blocks(page) == 0
    assert (out / "intervals.csv").read_text().startswith("onset,apex,offset")


def test_a_video_without_a_face_is_one_line_and_no_output(bundle: Path, tmp_path: Path) -> None:
    blank = tmp_path / "blank"
    blank.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(blank / f"f_{i:05d}.png")
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(blank), "--model", str(bundle), "--out", str(out), "--fps", "5"])
    assert res.exit_code == 2  # 40 frames at 5 fps: 8 s, longer than flow's lag
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no face" in errors[0] and res.stderr.strip().endswith(errors[0])
    assert not out.exists()


def test_strs_through_truth_on_a_hand_checked_case(bundle: Path, video: Path, tmp_path: Path) -> None:
    spotted = mesti.analyze(video, bundle, fps=30).intervals
    n = len(spotted)
    assert n >= 2
    a, b = spotted[0], spotted[1]
    # Truth: the first spotted interval with its predicted class (right), the second labelled
    # "others" (no class of the model: wrong whatever was predicted). Spotting: TP 2, FP n-2,
    # FN 0, F1 4/(n+2). Recognition over {p1, others, p2}: precision and recall 1/3 each
    # (p1 == p2 or not), F1 1/3. STRS = 4/(3(n+2)).
    truth = tmp_path / "truth.csv"
    truth.write_text("video,onset,apex,offset,type,label\n"
                     f"001_1,{a.onset},{a.apex},{a.offset},{a.type},{a.label}\n"
                     f"001_1,{b.onset},{b.apex},{b.offset},{b.type},others\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(video), "--model", str(bundle), "--out", str(out), "--fps", "30",
                              "--truth", str(truth)])
    assert res.exit_code == 0, res.output + str(res.exception)
    scores = json.loads((out / "intervals.json").read_text())["scores"]
    assert (scores["spot_tp"], scores["spot_fp"], scores["spot_fn"]) == (2, n - 2, 0)
    assert scores["spot_f1"] == pytest.approx(4 / (n + 2))
    assert scores["recognition_f1"] == pytest.approx(1 / 3)
    assert scores["strs"] == pytest.approx(4 / (3 * (n + 2)))
    page = (out / "report.html").read_text()
    assert "STRS" in page and f"#1 matches the true {a.type} expression at frames {a.onset}-{a.offset}" in page
    truth_rows = json.loads((out / "intervals.json").read_text())["truth"]
    assert [(t["class"], t["spotted_as"]) for t in truth_rows] == [(a.label, 1), ("others", 2)]


def test_truth_classes_map_emotions_onto_the_model_classes() -> None:
    classes = ["negative", "positive", "surprise"]
    assert [truth_class(e, classes) for e in ("disgust", "repression", "happiness", "Surprise", "others")] == \
        ["negative", "negative", "positive", "surprise", "others"]
    # A prediction overlapping a truth of the other type is no match: types are matched separately.
    result, pairs = score_video([Interval(0, 2, 5, "micro"), Interval(20, 25, 40, "macro")], ["negative", "positive"],
                                [Interval(0, 2, 5, "macro", label="disgust"), Interval(21, 25, 40, "macro", label="happiness")],
                                classes)
    assert pairs == [(1, 1)] and (result.spot_tp, result.spot_fp, result.spot_fn) == (1, 1, 1)
    assert result.recognition_f1 == 1.0 and result.strs == pytest.approx(0.5)


def test_synthetic_long_sheet_labels_map_onto_the_synthetic_clip_classes(long_set: LongSynthResult) -> None:
    from mesti.datasets.samm_long import SAMMLong

    videos = SAMMLong(long_set.path, fps=30).videos()
    labels = [iv.label for v in videos for iv in v.intervals]
    assert labels and all(label for label in labels)
    mapped = {truth_class(label, ["negative", "positive", "surprise"]) for label in labels}
    assert mapped <= {"negative", "positive", "surprise", "others"}


def test_spot_eval_recognise_scores_strs_on_a_long_video_set(bundle: Path, long_set: LongSynthResult, tmp_path: Path) -> None:
    from mesti.reports.strs import strs

    out = tmp_path / "eval"
    res = runner.invoke(app, ["spot-eval", "--dataset", "samm-long", "--root", str(long_set.path), "--opt", "fps=30",
                              "--method", "flow", "--recognise", str(bundle), "--out", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    summary = json.loads((out / "summary.json").read_text())
    overall, rec = summary["scores"]["overall"], summary["recognition"]["scores"]
    assert (rec["spot_tp"], rec["spot_fp"], rec["spot_fn"]) == (overall["tp"], overall["fp"], overall["fn"])
    with open(out / "recognition.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out / "predictions.csv", newline="") as fh:
        assert len(rows) == len(list(csv.DictReader(fh)))
    matched = [r for r in rows if r["truth"]]
    assert len(matched) == overall["tp"]
    again = strs(overall["tp"], overall["fp"], overall["fn"], [r["truth"] for r in matched], [r["prediction"] for r in matched])
    assert rec["strs"] == pytest.approx(again.strs) and "STRS" in res.stdout
    megc = [dict(r, video=p.stem) for p in sorted((out / "megc").iterdir()) for r in csv.DictReader(p.open(newline=""))]
    assert [(m["video"], int(m["onset"]), m["class"]) for m in megc] == [(r["video"], int(r["onset"]), r["prediction"]) for r in rows]
    res = runner.invoke(app, ["spot-eval", "--dataset", "samm-long", "--root", str(long_set.path), "--predictions",
                              str(out / "predictions.csv"), "--recognise", str(bundle), "--out", str(tmp_path / "e2")])
    assert res.exit_code == 2 and "--recognise" in res.stderr and not (tmp_path / "e2").exists()


def test_the_analysis_report_renders_in_a_headless_browser(bundle: Path, video: Path, tmp_path: Path) -> None:
    from tests.reports.test_html import BROWSER, _browser

    if BROWSER is None:
        pytest.skip("no Chromium binary found (apt-get install chromium)")
    out = mesti.analyze(video, bundle, fps=30).write(tmp_path / "out")
    n = len(json.loads((out / "intervals.json").read_text())["intervals"])
    dom = _browser("--dump-dom", (out / "report.html").as_uri(), profile=tmp_path / "p").stdout
    assert n and len(re.findall(r'<section class="interval" id="interval-\d+">', dom)) == n
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) == 1 + 3 * n  # timeline; apex, mesti, attention


def test_an_interval_without_a_face_stays_unclassified_and_said(bundle: Path, video: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from mesti.analysis import classify_intervals
    from mesti.errors import MestiError
    from mesti.bundle.predictor import Predictor
    from mesti.preprocessing import PreprocessConfig

    lost = tmp_path / "lost"
    lost.mkdir()
    for n, src in enumerate(sorted(video.iterdir())[:200]):
        if 100 <= n < 160:  # the face leaves the picture for 2 s
            Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(lost / f"f_{n:05d}.png")
        else:
            shutil.copy(src, lost / f"f_{n:05d}{src.suffix}")
    base = Predictor.from_bundle(bundle)
    detecting = Predictor(base.model, replace(base.pipeline, preprocess=PreprocessConfig(face="dlib-hog", size=32)))
    ivs = [Interval(60, 65, 75, "micro"), Interval(110, 115, 125, "micro")]
    out, _, _, notes = classify_intervals(detecting, lost, 30.0, ivs)
    assert out[0].label in base.classes and sum(out[0].probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert out[1].label is None and out[1].probabilities == {} and (out[1].onset, out[1].offset) == (110, 125)
    assert len(notes) == 1 and notes[0].startswith("interval 2 (frames 110-125) not classified:") and "no face" in notes[0]
    with pytest.raises(MestiError, match="none of the 1 spotted intervals could be classified"):
        classify_intervals(detecting, lost, 30.0, ivs[1:])


def test_write_never_empties_a_folder_it_did_not_make(bundle: Path, video: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22 D1: ``write('.')`` emptied the working directory, then raised a traceback."""
    from mesti.errors import MestiError

    analysis = mesti.analyze(video, bundle, method="flow", fps=30)
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "thesis.tex").write_text("mine")
    (work / "sub" / "data.csv").write_text("1,2")
    monkeypatch.chdir(work)
    with pytest.raises(MestiError, match="not empty"):
        analysis.write(".")
    with pytest.raises(MestiError, match="not a mesti output"):
        analysis.write(".", overwrite=True)
    with pytest.raises(MestiError, match="not a mesti output"):
        analysis.write(work / "sub", overwrite=True)
    assert sorted(str(p.relative_to(work)) for p in work.rglob("*")) == ["sub", "sub/data.csv", "thesis.tex"]
    out = analysis.write(tmp_path / "a")
    with pytest.raises(MestiError, match="pass --overwrite"):
        analysis.write(out)
    assert (analysis.write(out, overwrite=True) / "report.html").is_file()


# -- issue 22 D9, D15, D19 and issue 20 item 5 ----------------------------------------------------


def test_a_truth_file_must_name_the_video_and_give_classes(bundle: Path, video: Path, tmp_path: Path) -> None:
    from mesti.analysis.truth import read_truth
    from mesti.errors import MestiError

    other = tmp_path / "other.csv"
    other.write_text("video,onset,apex,offset,type,label\n002_1,10,12,14,micro,disgust\n")
    with pytest.raises(MestiError, match=r"other.csv: no row for video 001_1 \(the file names 002_1\)"):
        read_truth(other, video, 30.0, 360)
    unlabelled = tmp_path / "nolabel.csv"
    unlabelled.write_text("video,onset,apex,offset,type\n001_1,10,12,14,micro\n")
    with pytest.raises(MestiError, match="nolabel.csv: missing column\\(s\\) label"):
        read_truth(unlabelled, video, 30.0, 360)
    blank = tmp_path / "blank.csv"
    blank.write_text("video,onset,apex,offset,type,label\n001_1,10,12,14,micro,\n")
    with pytest.raises(MestiError, match="blank.csv line 2: no label"):
        read_truth(blank, video, 30.0, 360)
    sheet = video.parent.parent / "SAMM_LongVideos_V3_Release.xlsx"
    with pytest.raises(MestiError, match="no row for video 001_2"):
        read_truth(sheet, video.parent / "001_2", 30.0, 360)
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(video), "--model", str(bundle), "--out", str(out), "--fps", "30",
                              "--truth", str(other)])
    assert res.exit_code == 2 and "no row for video 001_1" in res.stderr and "other.csv" in res.stderr
    assert not re.search(r"spot flow 001_1 [1-9]", res.output)  # refused before any frame was spotted
    assert not out.exists()


def test_a_model_sharing_no_class_with_the_truth_is_said(bundle: Path, video: Path, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("video,onset,apex,offset,type,label\n001_1,76,81,86,micro,pain\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(video), "--model", str(bundle), "--out", str(out), "--fps", "30",
                              "--truth", str(truth)])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert "none of the truth's classes (pain) is a class of the model" in res.stderr
    assert "recognition F1 is 0 whatever the model predicts" in (out / "report.html").read_text()
    assert json.loads((out / "intervals.json").read_text())["scores"]["recognition_f1"] == 0.0

    from mesti.analysis.truth import class_overlap_note

    classes = ["negative", "positive", "surprise"]
    assert class_overlap_note([Interval(1, 2, 3, "micro", label="disgust")], classes) is None  # disgust -> negative
    assert class_overlap_note([Interval(1, 2, 3, "micro", label="others")], classes) is not None


def test_a_truncated_video_is_said_by_analyze(bundle: Path, video: Path, tmp_path: Path) -> None:
    import cv2

    avi = tmp_path / "001_1.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (96, 96))
    for p in sorted(video.iterdir())[:200]:
        writer.write(cv2.imread(str(p)))
    writer.release()
    data = avi.read_bytes()
    avi.write_bytes(data[: int(len(data) * 0.8)])  # the header still declares 200 frames
    truth = tmp_path / "truth.csv"
    truth.write_text("video,onset,apex,offset,type,label\n001_1,76,81,86,micro,disgust\n001_1,185,190,195,micro,disgust\n")
    analysis = mesti.analyze(avi, bundle, truth=truth)
    assert analysis.spot.frames < 185
    assert any("ends early" in w for w in analysis.warnings)
    assert any("1 true expression(s) lie past frame" in w and "185-195" in w for w in analysis.warnings)
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(avi), "--model", str(bundle), "--out", str(out), "--truth", str(truth)])
    assert res.exit_code == 0 and "ends early" in res.stderr and "lie past frame" in res.stderr


def test_recognise_skips_a_video_none_of_whose_intervals_classify(bundle: Path, video: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from mesti.analysis.dataset import recognise_spotted
    from mesti.datasets.long import LongVideo
    from mesti.spotting.result import SpotResult
    from mesti.bundle.predictor import Predictor
    from mesti.preprocessing import PreprocessConfig

    blank = tmp_path / "blank"
    blank.mkdir()
    for n in range(60):
        Image.fromarray(np.full((96, 96, 3), 128, np.uint8)).save(blank / f"f_{n:05d}.png")
    base = Predictor.from_bundle(bundle)
    detecting = Predictor(base.model, replace(base.pipeline, preprocess=PreprocessConfig(face="dlib-hog", size=32)))
    truth = Interval(20, 25, 30, "micro", label="disgust")
    videos = [LongVideo("d", "s1", "blank", blank, 30.0, "frames", (truth,), 60),
              LongVideo("d", "s2", "001_1", video, 30.0, "frames", (Interval(60, 65, 75, "micro", label="disgust"),), 360)]
    results = [SpotResult(str(blank), "flow", 30.0, 60, [Interval(20, 25, 30, "micro")], np.zeros(60), 1.0, {}),
               SpotResult(str(video), "flow", 30.0, 360, [Interval(60, 65, 75, "micro")], np.zeros(360), 1.0, {})]
    scores, table = recognise_spotted(detecting, videos, results)
    assert scores["predicted"]["blank"] == [None] and scores["predicted"]["001_1"][0] in base.classes
    assert any(n.startswith("blank: none of its 1 spotted interval(s) could be classified") and "video skipped" in n
               for n in scores["notes"])
    s = scores["scores"]
    assert (s["spot_tp"], s["spot_fp"], s["spot_fn"]) == (2, 0, 0)  # the skipped video still counts
    assert s["recognition_f1"] < 1.0  # its matched interval counts as misrecognised, never dropped
    assert len(table.strip().splitlines()) == 1 + 2
