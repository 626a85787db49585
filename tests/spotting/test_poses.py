"""Issue 20: references chosen by head pose, and what flow does with them."""

from __future__ import annotations

import numpy as np
import pytest

from mesti.clips.intervals import Interval
from mesti.spotting.flow import FlowSpotter, turning
from mesti.spotting.motion import REGIONS, RegionMotion
from mesti.spotting.poses import MATCH_TOLERANCE, POSE_POINTS, PoseRing, pose_descriptor

FPS = 30.0


def _face(shift: float = 0.0, turn: float = 0.0) -> np.ndarray:
    """68 landmarks; ``turn`` moves the nose against the jaw (a turn out of the image plane)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(20, 100, size=(68, 2)).astype(np.float32) + shift
    p[27:36, 0] += turn
    return p


def test_a_pose_ignores_where_the_face_is_and_sees_a_turn() -> None:
    a, b, c = pose_descriptor(_face()), pose_descriptor(_face(shift=7.0)), pose_descriptor(_face(turn=3.0))
    assert a.shape == (len(POSE_POINTS), 2)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert np.abs(a - c).max() > 1.0


def test_the_ring_chooses_the_nearest_pose_and_the_farthest_as_near() -> None:
    ring = PoseRing(10)
    poses = {0: 0.0, 1: 0.1, 2: 3.0, 3: 3.0, 4: 0.05, 5: 2.9, 6: 3.0}
    for f, turn in poses.items():
        ring.push(f, pose_descriptor(_face(turn=turn)))
    frames = np.arange(0, 5)  # farthest from frame 6 first
    c = ring.choose(6, frames)
    assert c.nearest in (2, 3)  # the same pose
    assert c.farthest == 2  # as near, and farther in time
    c0 = ring.choose(0, np.arange(6, 0, -1))
    assert c0.nearest == 4 and c0.farthest == 4  # frame 1 is as near but nearer in time
    assert ring.gap(0, 4) < MATCH_TOLERANCE < ring.gap(0, 6)


def test_a_frame_without_a_pose_chooses_nothing_and_is_never_chosen() -> None:
    ring = PoseRing(5)
    ring.push(0, None)
    ring.push(1, pose_descriptor(_face()))
    ring.push(2, pose_descriptor(_face()))
    assert ring.choose(0, np.array([1, 2])).nearest is None
    assert ring.choose(2, np.array([0, 1])).nearest == 1
    assert ring.choose(2, np.array([0])).nearest is None
    assert ring.choose(2, np.array([], dtype=int)).farthest is None


def _motion(n: int = 300, m: np.ndarray | None = None, **fields: object) -> RegionMotion:
    if m is None:
        m = np.full((n, len(REGIONS)), 0.05, np.float32) + np.random.default_rng(3).normal(0, 0.01, (n, len(REGIONS))).astype(np.float32)
    return RegionMotion("v", FPS, 60, m, **fields)  # type: ignore[arg-type]


def test_fast_head_motion_is_a_turn_widened_a_little() -> None:
    speed = np.zeros(300, np.float32)
    speed[100:115] = 1.0  # half a second of a fast turn
    mask = turning(_motion(speed=speed))
    assert mask[100:115].all() and mask[96] and not mask[80] and not mask[135]
    assert not turning(_motion()).any()  # no speed measured: no turn


def test_an_expression_while_the_head_turns_fast_is_not_spotted() -> None:
    m = _motion()
    bump = np.sin(np.linspace(0, np.pi, 20)).astype(np.float32)
    m.m[150:170, REGIONS.index("brow_l")] += bump  # against the frame a lag before ...
    m.m[210:230, REGIONS.index("brow_l")] += bump  # ... and, a lag later, against the frame after
    assert FlowSpotter().decide(m).intervals
    speed = np.zeros(300, np.float32)
    speed[150:170] = 1.0
    assert FlowSpotter().decide(_motion(m=m.m, speed=speed)).intervals == []


def test_each_channel_keeps_its_own_kind_and_nothing_runs_into_the_videos_ends() -> None:
    n = 300
    near = np.full((2, n, len(REGIONS)), np.nan, np.float32)
    micro = np.zeros(n)
    macro = np.zeros(n)
    micro[70:76] = micro[200:260] = 20.0  # a micro run, and a long one the micro channel must not report
    macro[120:180] = macro[0:40] = 20.0  # a macro run, and one from the first frame
    macro[255:262] = 20.0  # a short one the macro channel must not report
    m = _motion(near=near, near_h=near)
    found = FlowSpotter().intervals(m, micro, macro)
    kinds = [(iv.kind, iv.onset <= 72 <= iv.offset, iv.onset <= 150 <= iv.offset) for iv in found]
    assert ("micro", True, False) in kinds and ("macro", False, True) in kinds
    assert len(found) == 2, found
    assert all(iv.onset > 0 and iv.offset < n - 1 for iv in found)


def test_a_micro_run_inside_a_macro_one_is_part_of_it() -> None:
    n = 300
    micro, macro = np.zeros(n), np.zeros(n)
    macro[100:160] = 20.0
    micro[120:126] = 20.0
    found = FlowSpotter().intervals(_motion(), micro, macro)
    assert [iv.kind for iv in found] == ["macro"]


@pytest.mark.parametrize("channel", ["micro", "macro"])
def test_the_channels_add_their_references_to_the_fixed_ones(channel: str) -> None:
    n = 200
    m = np.full((n, len(REGIONS)), 1.0, np.float32)
    chosen = np.full((2, n, len(REGIONS)), 0.1, np.float32)
    gap = np.full(n, 2.0, np.float32)  # every fixed reference in another pose
    motion = RegionMotion("v", FPS, 40, m, near=chosen, near_h=chosen * 0, far=chosen, far_h=chosen * 0, q=gap, q3=gap,
                          m3=m.copy(), lag3=50)
    assert np.nanmax(motion.symmetric(channel)[60:140]) == pytest.approx(0.1)
    same_pose = RegionMotion("v", FPS, 40, m, far=chosen, far_h=chosen * 0, q=gap * 0, q3=gap * 0, m3=m.copy(), lag3=50)
    assert np.nanmin(same_pose.symmetric("macro")[60:140]) == pytest.approx(1.0)  # the fixed ones share its pose
    assert Interval(0, 1, 2, "micro").frames == 3
