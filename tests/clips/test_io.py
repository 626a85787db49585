from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mesti.clips import Clip, load_clip, natural_key, sorted_frame_paths
from mesti.errors import MestiError
from tests.conftest import moving_clip, write_frames


def test_natural_sort_orders_by_number() -> None:
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "reg_img100.jpg", "reg_img11.jpg"]
    assert sorted(names[:3], key=natural_key) == ["img1.jpg", "img2.jpg", "img10.jpg"]
    assert sorted(names[3:], key=natural_key) == ["reg_img11.jpg", "reg_img100.jpg"]
    assert sorted(["006_05562.jpg", "006_5561.jpg"], key=natural_key) == ["006_5561.jpg", "006_05562.jpg"]


def test_frame_folder_is_read_in_temporal_order(clip_folder: Path) -> None:
    frames = moving_clip()
    clip = load_clip(clip_folder)
    assert [p.name for p in sorted_frame_paths(clip_folder)][:3] == ["img1.png", "img2.png", "img3.png"]
    np.testing.assert_array_equal(clip.frames, frames)
    assert (clip.onset, clip.apex, clip.offset) == (0, 5, 11)  # apex defaults to the middle
    assert clip.length == 12 and clip.apex_in_window == 6


def test_hidden_and_os_files_are_ignored(clip_folder: Path) -> None:
    (clip_folder / ".DS_Store").write_bytes(b"x")
    (clip_folder / "Thumbs.db").write_bytes(b"x")
    assert load_clip(clip_folder).frames.shape[0] == 12


def test_video_round_trip(tmp_path: Path) -> None:
    frames = moving_clip(size=64)
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 64))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    clip = load_clip(path, onset=1, apex=4, offset=10)
    assert clip.frames.shape == frames.shape
    assert clip.fps == pytest.approx(25.0)
    assert np.abs(clip.frames.astype(int) - frames.astype(int)).mean() < 6  # MJPEG is lossy
    assert (clip.onset, clip.apex, clip.offset) == (1, 4, 10)


def test_array_and_grayscale_frames() -> None:
    gray = moving_clip()[..., 0]
    clip = load_clip(gray)
    assert clip.frames.shape == (12, 48, 48, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"onset": 5, "offset": 2}, "after offset"),
        ({"onset": 2, "apex": 1, "offset": 8}, r"outside \[onset, offset\]"),
        ({"apex": 40}, "outside the 12 frames"),
        ({"onset": 3, "offset": 3, "apex": 3}, "at least 2 frames"),
    ],
)
def test_bad_positions_name_the_clip(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(MestiError, match=message) as err:
        Clip(frames=moving_clip(), **{"onset": 0, "apex": 5, "offset": 11, **kwargs}, clip_id="EP01_01f", subject="sub01")
    assert "sub01/EP01_01f" in str(err.value)


def test_bad_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MestiError, match="no image frames"):
        load_clip(empty)
    one = write_frames(tmp_path / "one", moving_clip()[:1])
    with pytest.raises(MestiError, match="at least 2 frames"):
        load_clip(one)
    mixed = write_frames(tmp_path / "mixed", moving_clip()[:3])
    write_frames(mixed, moving_clip(size=32)[:1], start=4)
    with pytest.raises(MestiError, match="differ in size"):
        load_clip(mixed)
    with pytest.raises(MestiError, match="no such file or folder"):
        load_clip(tmp_path / "nowhere")
