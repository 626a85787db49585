"""A small synthetic long-video set, generated once per session (2 subjects, 12 s, 30 fps, 96 px)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesti.synth.long import LongSynthResult, generate_long_videos


@pytest.fixture(scope="session")
def long_set(tmp_path_factory: pytest.TempPathFactory) -> LongSynthResult:
    out = tmp_path_factory.mktemp("long") / "set"
    return generate_long_videos(out, subjects=2, videos_per_subject=1, seconds=12, fps=30, size=96, seed=3)


@pytest.fixture
def long_root(long_set: LongSynthResult) -> Path:
    return long_set.path
