"""Issue 16 items 2, 3, 6: links out of the root, one clip listed twice, a truncated video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.clips import load_clip
from mesti.datasets.check import check_dataset
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.protocols import Fold, assert_samples_disjoint
from mesti.engine.samples import SampleSet
from tests.conftest import moving_clip, write_frames
from tests.datasets.builders import write_video

runner = CliRunner()


def manifest(root: Path, rows: list[str]) -> Path:
    (root / "manifest.csv").write_text("path,subject,label\n" + "\n".join(rows) + "\n")
    return root


@pytest.fixture()
def linked_root(tmp_path: Path) -> Path:
    """A clip folder inside the root whose frame files are links to images outside it."""
    outside = write_frames(tmp_path / "outside", moving_clip(length=4, size=16))
    clip = tmp_path / "root" / "clips" / "c1"
    clip.mkdir(parents=True)
    for f in outside.iterdir():
        (clip / f.name).symlink_to(f)
    write_frames(tmp_path / "root" / "clips" / "c2", moving_clip(length=4, size=16))
    return manifest(tmp_path / "root", ["clips/c1,s01,a", "clips/c2,s02,b"])


def test_frames_linking_out_of_the_root_are_refused(linked_root: Path) -> None:
    adapter = create_dataset("folder", linked_root)
    rec = next(r for r in adapter.records() if r.clip_id == "c1")
    with pytest.raises(MestiError, match="links outside the dataset root"):
        rec.load()
    report = check_dataset(adapter)
    assert not report.ok and any("links outside" in f.what for f in report.unreadable)
    res = runner.invoke(app, ["data", "check", "--dataset", "folder", "--root", str(linked_root)])
    assert res.exit_code == 1 and "links outside" in res.output
    ok = next(r for r in adapter.records() if r.clip_id == "c2")
    assert ok.load().length == 4  # frames inside the root still read


def test_a_video_linking_out_of_the_root_is_refused(tmp_path: Path) -> None:
    video = write_video(tmp_path / "outside" / "v.avi", 6)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "v.avi").symlink_to(video)
    manifest(tmp_path / "root", ["v.avi,s01,a"])
    # the manifest's own path check already follows a link that is the row's path
    with pytest.raises(MestiError, match="links outside"):
        create_dataset("folder", tmp_path / "root").records()


def test_one_clip_listed_twice_is_refused(tmp_path: Path) -> None:
    write_frames(tmp_path / "clips" / "s01_e1", moving_clip(length=4, size=16))
    manifest(tmp_path, ["clips/s01_e1,s01,a", "clips/s01_e1,s02,b"])
    with pytest.raises(MestiError, match="line 3.*also line 2: one clip listed twice"):
        create_dataset("folder", tmp_path).records()
    manifest(tmp_path, ["clips/s01_e1,s01,a", "clips/./s01_e1,s02,b"])  # spelled another way
    with pytest.raises(MestiError, match="listed twice"):
        create_dataset("folder", tmp_path).records()


def test_the_leakage_guard_compares_samples_not_only_subjects() -> None:
    images = torch.rand(4, 3, 8, 8)
    images[3] = images[0]  # the same clip under another subject and name
    samples = SampleSet.from_arrays(images, [0, 1, 0, 1], ["s1", "s1", "s2", "s2"], ["d"] * 4,
                                    ["a", "b", "c", "a-copy"], ["x", "y"])
    fold = Fold("d-s2", np.array([0, 1]), np.array([2, 3]))
    with pytest.raises(MestiError, match="test sample d/s2/a-copy is identical to training sample d/s1/a"):
        assert_samples_disjoint(fold, samples.fingerprints(), samples.keys)
    assert_samples_disjoint(Fold("ok", np.array([0, 3]), np.array([1, 2])), samples.fingerprints(), samples.keys)


@pytest.fixture()
def truncated_video(tmp_path: Path) -> Path:
    whole = write_video(tmp_path / "whole.avi", 62, size=(64, 48))
    data = whole.read_bytes()
    (tmp_path / "root").mkdir()
    cut = tmp_path / "root" / "v.avi"
    cut.write_bytes(data[: int(len(data) * 0.55)])  # the header still declares 62 frames
    return cut


def test_a_truncated_video_is_reported(truncated_video: Path, capfd: pytest.CaptureFixture[str]) -> None:
    clip = load_clip(truncated_video)
    assert clip.meta["declared_frames"] == 62 and clip.frames.shape[0] < 62
    assert "ends early" in clip.meta["warnings"][0]
    res = runner.invoke(app, ["encode", str(truncated_video), "-m", "apex", "--out", str(truncated_video.parent / "a.png")])
    assert res.exit_code == 0 and "warning:" in res.output and "of the 62 frames" in res.output
    root = manifest(truncated_video.parent, ["v.avi,s01,a"])
    report = check_dataset(create_dataset("folder", root))
    assert not report.ok and "ends early" in report.missing_frames[0].what
    assert "[mjpeg" not in capfd.readouterr().err  # no FFmpeg log lines among the messages


def test_encode_prints_the_0_based_apex_it_was_given(clip_folder: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["encode", str(clip_folder), "-m", "mesti", "--apex", "10", "--out", str(tmp_path / "m.png")])
    assert res.exit_code == 0 and "apex 10, 0-based" in res.output
