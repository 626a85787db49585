"""Issue 16 item 12: frames above a documented size are refused before decoding, unless allowed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.clips.io import DEFAULT_MAX_FRAME_PIXELS, MAX_FRAME_PIXELS_ENV, read_image
from mesti.errors import MestiError

runner = CliRunner()


def test_a_frame_above_the_default_limit_is_refused(tmp_path: Path) -> None:
    side = 4100  # 16.8 M pixels, just above 4096 x 4096
    assert side * side > DEFAULT_MAX_FRAME_PIXELS
    Image.new("L", (side, side)).save(tmp_path / "big.png")
    with pytest.raises(MestiError, match="4100x4100 pixels is above the limit of 16,777,216 pixels"):
        read_image(tmp_path / "big.png")


def test_the_limit_is_set_by_the_environment_and_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = tmp_path / "clip"
    clip.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 40, 3), 10 * i, np.uint8)).save(clip / f"img{i}.png")
    monkeypatch.setenv(MAX_FRAME_PIXELS_ENV, "1000")
    with pytest.raises(MestiError, match="--allow-large-frames"):
        read_image(clip / "img0.png")
    res = runner.invoke(app, ["encode", str(clip), "-m", "apex", "--out", str(tmp_path / "a.png")])
    assert res.exit_code == 2 and "above the limit of 1,000 pixels" in res.output and not (tmp_path / "a.png").exists()
    res = runner.invoke(app, ["--allow-large-frames", "encode", str(clip), "-m", "apex", "--out", str(tmp_path / "a.png")])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv(MAX_FRAME_PIXELS_ENV, "lots")
    with pytest.raises(MestiError, match="not a whole number"):
        read_image(clip / "img0.png")
