"""Issue 20: head motion, blinks and talking are not expressions; an expression still is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from mesti.clips.intervals import Interval
from mesti.clips.stream import open_stream
from mesti.spotting.evaluate import quiet_false_positives
from mesti.spotting.flow import FlowSpotter, blink_mask, talk_mask
from mesti.spotting.motion import REGIONS, RegionMotion, region_motion
from mesti.synth.faces import available_photos, photo_landmarks
from mesti.synth.identity import make_face
from mesti.synth.long import plan_long_video, render_long_video
from mesti.synth.long.plan import FACE_FRACTION, Blink, LongEvent, Talk, Turn
from mesti.synth.render import FaceRig

needs_faces = pytest.mark.skipif(not available_photos(), reason="needs dlib, its landmark model and the photos")
FPS = 30.0


def _video(tmp: Path, **what: object) -> Path:
    """A 14 s high-motion-level video of one photo face holding only ``what`` (turns, blinks, talks, events)."""
    name = available_photos()[0]
    rig = FaceRig(make_face(name, 0, 5, 128, photo_landmarks(name), FACE_FRACTION["high"]))
    spec = plan_long_video(9, 1, 0, 14, FPS, 1.5, "high")
    spec = replace(spec, events=(), blinks=(), talks=(), turns=(), light=(0.0, 1.0, 0.0, 0.0, 1.0, 0.0))
    spec = replace(spec, **what)
    folder = tmp / "video"
    folder.mkdir()
    for k, frame in enumerate(render_long_video(rig, spec)):
        cv2.imwrite(str(folder / f"{k:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


@needs_faces
def test_a_head_turn_and_roll_without_facial_movement_is_no_interval(tmp_path: Path) -> None:
    # A glance: 15 degrees of yaw, 8 of roll and a shift, held 1.5 s, then back; a second turn that stays.
    turns = (Turn(120, 20, 8.0, (12.0, 4.0), 15.0, 0.0), Turn(185, 20, -8.0, (-12.0, -4.0), -15.0, 0.0),
             Turn(300, 25, -6.0, (-8.0, 3.0), -12.0, 5.0))
    result = FlowSpotter().spot(open_stream(_video(tmp_path, turns=turns), FPS))
    assert result.intervals == [], result.intervals
    assert result.gaps == []


@needs_faces
def test_an_expression_during_head_sway_is_still_found(tmp_path: Path) -> None:
    event = LongEvent(200, 222, 245, "macro", "surprise", ((1, 5.0), (2, 4.0)))
    result = FlowSpotter().spot(open_stream(_video(tmp_path, events=(event,), turns=(Turn(350, 20, 3.0, (4.0, 0.0), 6.0, 0.0),)), FPS))
    truth = Interval(200, 222, 245, "macro")
    from mesti.spotting.evaluate import iou

    assert any(iou(iv, truth) >= 0.5 for iv in result.intervals), result.intervals
    assert all(iou(iv, truth) > 0 for iv in result.intervals), result.intervals  # nothing else


@needs_faces
def test_a_micro_expression_while_the_head_is_held_turned_is_found_and_the_glance_is_not(tmp_path: Path) -> None:
    """A glance away (12 degrees of yaw, a roll, a shift) held 3.5 s, then back; a micro-expression
    in the hold. Every reference a fixed lag away holds the other pose; the pose-chosen ones share it."""
    turns = (Turn(90, 20, 5.0, (10.0, 3.0), 12.0, 3.0), Turn(215, 20, -5.0, (-10.0, -3.0), -12.0, -3.0))
    event = LongEvent(150, 156, 161, "micro", "happiness", ((12, 3.0), (6, 2.5)))
    result = FlowSpotter().spot(open_stream(_video(tmp_path, events=(event,), turns=turns), FPS))
    from mesti.spotting.evaluate import iou

    truth = Interval(150, 156, 161, "micro")
    assert any(iou(iv, truth) >= 0.5 and iv.kind == "micro" for iv in result.intervals), result.intervals
    assert all(iou(iv, truth) > 0 for iv in result.intervals), result.intervals  # the glance is no interval


@needs_faces
def test_blinks_and_talking_are_labelled_not_counted(tmp_path: Path) -> None:
    blinks = tuple(Blink(s, 6, 0.95) for s in (80, 170, 260, 350))
    talks = (Talk(130, 75, 4.0, 8.0, 0.2),)
    result = FlowSpotter().spot(open_stream(_video(tmp_path, blinks=blinks, talks=talks), FPS))
    assert result.intervals == [], result.intervals
    for b in blinks:
        assert any(a <= b.start + 3 <= z for a, z in result.blinks), (b, result.blinks)
    assert any(a <= 150 and 190 <= z for a, z in result.talking), result.talking


def test_blink_mask_from_the_eye_aspect_ratio() -> None:
    rng = np.random.default_rng(0)
    ear = 0.3 + rng.normal(0, 0.003, 600)
    ear[100:106] = 0.2  # a blink
    ear[300:400] = 0.22  # eyes narrowed for 3 s: no blink
    mask = blink_mask(ear, FPS)
    assert mask[100:106].all() and not mask[320:380].any() and not mask[:90].any()


def test_talk_mask_wants_several_syllables() -> None:
    t = np.arange(600) / FPS
    mouth = np.full(600, 0.05) + np.random.default_rng(1).normal(0, 0.005, 600)
    mouth[60:150] += 0.6 * np.sin(np.pi * 4.0 * t[60:150]) ** 2  # speech: 4 syllables a second
    mouth[300:345] += 0.6 * np.sin(np.pi * (t[300:345] - t[300]) / 1.5)  # one smooth expression
    mask = talk_mask(mouth, FPS)
    assert mask[70:140].all() and not mask[300:345].any()


def _motion(rows: np.ndarray, lag: int, rows3: np.ndarray | None = None, lag3: int = 0) -> RegionMotion:
    m = np.zeros((len(rows), len(REGIONS)), np.float32) + 0.05
    m[:, REGIONS.index("mouth")] += rows
    m3 = None
    if rows3 is not None:
        m3 = np.zeros_like(m) + 0.05
        m3[:, REGIONS.index("mouth")] += rows3
    return RegionMotion("v", FPS, lag, m, m3=m3, lag3=lag3)


def test_a_second_reference_lag_keeps_clean_what_one_lag_cannot() -> None:
    """Two expressions exactly one lag apart: against the first lag, frame t sees an expression on both
    sides (t - K and t + K); against the second lag it sees the neutral face, so t is quiet."""
    n, lag, lag3 = 600, 100, 135
    contaminated = np.zeros(n)
    contaminated[300:310] = 1.0  # m(t) at t = 300..309 compares with t - K (an expression)
    contaminated[400:410] = 1.0  # m(t + K) likewise
    one = _motion(contaminated, lag).symmetric()[:, REGIONS.index("mouth")]
    assert one[300:310].min() > 0.5  # a phantom expression with one lag
    two = _motion(contaminated, lag, np.zeros(n), lag3).symmetric()[:, REGIONS.index("mouth")]
    assert two[300:310].max() < 0.1


def test_quiet_false_positives_counts_only_predictions_away_from_every_expression() -> None:
    truth = {"a": [Interval(100, 110, 120, "micro")], "b": []}
    predicted = {"a": [Interval(115, 118, 125, "micro"), Interval(400, 405, 410, "macro")], "b": [Interval(5, 6, 7, "micro")]}
    count, free = quiet_false_positives(predicted, truth, {"a": 900, "b": 300})
    assert count == 2 and free == 900 - 21 + 300


def test_compensation_options_are_checked() -> None:
    from mesti.errors import MestiError

    with pytest.raises(MestiError, match="compensation"):
        region_motion(None, compensation="magic")  # type: ignore[arg-type]


@needs_faces
def test_the_demo_long_video_has_no_interval_over_its_head_motion(tmp_path: Path) -> None:
    """Issue 20: ``make demo``'s long video (seed 0) once came back with one 10 s "macro" over its
    last 10 s, where the head turns; every interval must now sit on an expression."""
    from mesti.datasets.registry import create_dataset
    from mesti.demo import DemoSettings
    from mesti.spotting.evaluate import iou
    from mesti.synth.long import generate_long_videos

    s = DemoSettings()
    made = generate_long_videos(tmp_path / "long", subjects=1, videos_per_subject=1, seconds=s.long_seconds, fps=s.long_fps,
                                size=s.size, seed=s.seed)
    video = create_dataset("samm-long", made.path, fps=s.long_fps).videos()[0]
    result = FlowSpotter().spot(open_stream(video.path, s.long_fps))
    assert result.intervals
    for iv in result.intervals:
        assert iv.frames <= 4 * s.long_fps, iv  # the longest expression lasts 3.5 s
        assert any(iou(iv, t) > 0 for t in video.intervals), iv
