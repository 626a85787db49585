"""Synthetic long videos: deterministic, in the SAMM long-video layout, read back by the real adapter."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mesti.datasets.check import check_dataset
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.synth.long import LongSynthResult, generate_long_videos, plan_long_video
from mesti.synth.long.sheet import SHEET_FILE


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_adapter_reads_back_the_plan(long_set: LongSynthResult) -> None:
    adapter = create_dataset("samm-long", long_set.path, fps="30")
    videos = {v.video_id: v for v in adapter.videos()}
    assert sorted(videos) == ["001_1", "002_1"] and adapter.issues == []
    for spec in long_set.videos:
        got = videos[spec.video]
        assert got.frames == spec.frames == 360 and got.fps == 30.0 and got.subject == spec.subject
        assert [(i.onset, i.apex, i.offset, i.kind) for i in got.intervals] == [
            (e.onset, e.apex, e.offset, e.kind) for e in spec.events]
    report = check_dataset(adapter, decode=False)
    assert report.ok and report.clips == sum(len(v.events) for v in long_set.videos)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate_long_videos(tmp_path / "a", subjects=1, videos_per_subject=1, seconds=5, fps=30, size=64, seed=7,
                             real_faces=False)
    b = generate_long_videos(tmp_path / "b", subjects=1, videos_per_subject=1, seconds=5, fps=30, size=64, seed=7,
                             real_faces=False)
    assert _digest(a.path) == _digest(b.path)
    assert (a.path / SHEET_FILE).is_file()


def test_200_fps_holds_the_same_events_in_seconds() -> None:
    slow, fast = plan_long_video(0, 1, 0, 30, 30.0, 1.5), plan_long_video(0, 1, 0, 30, 200.0, 1.5)
    assert fast.frames == 6000 and slow.frames == 900
    assert [e.kind for e in slow.events] == [e.kind for e in fast.events]
    for s, f in zip(slow.events, fast.events, strict=True):
        assert abs(s.onset / 30 - f.onset / 200) < 0.05
        duration = (f.offset - f.onset + 1) / 200
        assert (0.2 <= duration <= 0.5) if f.kind == "micro" else (0.5 < duration <= 4.0)


def test_bad_arguments_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="--fps"):
        generate_long_videos(tmp_path / "x", fps=5)
    with pytest.raises(MestiError, match="--seconds"):
        generate_long_videos(tmp_path / "x", seconds=1)
    assert not (tmp_path / "x").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("a user's file")
    with pytest.raises(MestiError, match="not empty"):
        generate_long_videos(tmp_path / "mine", seconds=5)
    with pytest.raises(MestiError, match="refusing to overwrite"):
        generate_long_videos(tmp_path / "mine", seconds=5, overwrite=True)
    assert (tmp_path / "mine" / "keep.txt").read_text() == "a user's file"
