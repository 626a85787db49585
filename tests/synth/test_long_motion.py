"""``mesti synth --long --head-motion``: harder long videos (turns out of the image plane, talking,
lighting drift), the same expressions at every level, faces dlib still finds."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.synth.faces import available_photos, photo_landmarks
from mesti.synth.identity import make_face
from mesti.synth.long import generate_long_videos, plan_long_video, render_long_video
from mesti.synth.long.plan import FACE_FRACTION, LEVELS, Turn
from mesti.synth.long.render import _pose
from mesti.synth.render import FaceRig


def _poses(spec) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.degrees([_pose(spec, k, 1.0)[2:] for k in range(spec.frames)])  # roll, yaw, pitch


@pytest.mark.parametrize("level", ["medium", "high"])
def test_levels_keep_the_expressions_and_stay_within_their_limits(level: str) -> None:
    low = plan_long_video(4, 2, 1, 120, 30.0, 1.5)
    spec = plan_long_video(4, 2, 1, 120, 30.0, 1.5, level)
    assert spec.events == low.events and spec.head_motion == level
    assert low.talks == () and all(t.yaw == t.pitch == 0 for t in low.turns)
    lv = LEVELS[level]
    poses = _poses(spec)
    assert np.abs(poses[:, 1]).max() <= lv.yaw + 1e-6 and np.abs(poses[:, 2]).max() <= lv.pitch + 1e-6
    assert np.abs(poses[:, 1]).max() > 0.3 * lv.yaw  # the head really turns
    assert spec.talks, "two minutes of talking-level video hold some talking"
    for t in spec.talks:  # talking never overlaps an expression, so the truth stays the sheet's
        assert all(t.start + t.frames < e.onset or e.offset < t.start for e in spec.events)
    assert spec.light[0] > 0 and spec.light[3] > 0
    with pytest.raises(ValueError, match="head motion"):
        plan_long_video(4, 2, 1, 20, 30.0, 1.5, "wild")


@pytest.mark.skipif(not available_photos(), reason="needs dlib, its landmark model and the photos")
def test_dlib_finds_the_face_at_the_strongest_turn() -> None:
    from mesti.synth.landmarks import detect_landmarks

    lv = LEVELS["high"]
    for n, name in enumerate(available_photos()):
        rig = FaceRig(make_face(name, 2, 11 + n, 128, photo_landmarks(name), FACE_FRACTION["high"]))
        spec = plan_long_video(0, 1, 0, 6, 30.0, 1.5, "high")
        for yaw, pitch, roll in ((lv.yaw, 0.0, 0.0), (-lv.yaw, lv.pitch, lv.roll), (lv.yaw, -lv.pitch, -lv.roll)):
            turned = replace(spec, frames=12, events=(), blinks=(), talks=(), turns=(Turn(0, 2, roll, (lv.shift, 0.0), yaw, pitch),))
            frame = list(render_long_video(rig, turned))[-1]
            assert detect_landmarks(frame) is not None, (name, yaw, pitch, roll)


def test_a_turn_moves_the_nose_more_than_the_cheeks() -> None:
    """A turn out of the image plane is no similarity transform: the nose moves further."""
    rig = FaceRig(make_face("procedural", 0, 3, 128, None, FACE_FRACTION["high"]))
    spec = replace(plan_long_video(0, 1, 0, 5, 30.0, 0.0, "high"), frames=8, events=(), blinks=(), talks=(),
                   sway=(0.0, 0.0, 0.0, 0.0), flicker=(0.0, 1.0, 0.0), light=(0.0, 1.0, 0.0, 0.0, 1.0, 0.0),
                   turns=(Turn(1, 2, 0.0, (0.0, 0.0), 12.0, 0.0),))
    frames = list(render_long_video(rig, spec))
    import cv2

    a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frames[0], frames[-1]))
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)
    p = rig.face.landmarks.astype(int)
    nose, cheek = flow[p[30, 1], p[30, 0], 0], flow[p[3, 1], p[3, 0] + 8, 0]
    assert abs(nose) > abs(cheek) + 1.0 and math.copysign(1, nose) == 1.0


def test_generate_records_the_level_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    out = generate_long_videos(tmp_path / "h", subjects=1, videos_per_subject=1, seconds=5, fps=30, size=64, seed=2,
                               real_faces=False, head_motion="high")
    doc = json.loads((out.path / "synth_long.json").read_text())
    assert doc["settings"]["head_motion"] == "high" and doc["videos"][0]["head_motion"] == "high"
    with pytest.raises(MestiError, match="--head-motion"):
        generate_long_videos(tmp_path / "x", seconds=5, head_motion="extreme")
    assert not (tmp_path / "x").exists()


def test_cli_head_motion(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["synth", str(tmp_path / "m"), "--long", "--subjects", "1", "--videos-per-subject", "1",
                             "--seconds", "5", "--size", "64", "--procedural-only", "--head-motion", "medium"])
    assert ok.exit_code == 0, ok.output
    assert "medium head motion" in ok.output.replace("\n", " ")
    bad = runner.invoke(app, ["synth", str(tmp_path / "b"), "--long", "--seconds", "5", "--head-motion", "wild"])
    assert bad.exit_code == 2 and "--head-motion" in bad.output
    clips = runner.invoke(app, ["synth", str(tmp_path / "c"), "--head-motion", "high"])
    assert clips.exit_code == 2 and "long videos" in clips.output
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
