"""Issue 22 D16: inputs that ended in a Python traceback; each is now one line, exit code 2, nothing written."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mesti.utils.atomic as atomic
from mesti.cli.common import handles_errors
from mesti.cli.main import app
from mesti.clips.stream import open_stream
from mesti.errors import MestiError
from mesti.models import create_model, save_checkpoint
from mesti.protocols import HoldOut, SubjectKFold
from mesti.engine.config import TrainConfig
from mesti.studies.spec import DatasetSpec, StudySpec
from tests.cli.test_one_line_errors import one_line_error
from tests.conftest import moving_clip, write_frames
from tests.studies.study_tree import write_study_tree

runner = CliRunner()
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def run(*args: object, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"), subjects=4, per_class=1)


def study(tree: Path, tmp: Path, command: str = "loso", *extra: object):  # type: ignore[no-untyped-def]
    return run(command, "--dataset", "casme2", "--root", tree, "--classes", "3", "--modality", "mesti", "--model",
               "ststnet", "--epochs", "1", "--face", "none", "--size", "32", "--device", "cpu",
               "--cache", tmp / "cache", *extra)


@pytest.fixture()
def mixed_sizes(tmp_path: Path) -> Path:
    """A frame folder whose 10th frame is smaller than the others."""
    folder = write_frames(tmp_path / "video", moving_clip(length=40, size=48), pattern="f{n:03d}.png")
    write_frames(folder, moving_clip(length=1, size=40), pattern="f{n:03d}.png", start=10)
    return folder


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    path = save_checkpoint(create_model("ststnet", 3), tmp_path / "ckpt" / "fold.pt")
    pipeline = {"classes": ["a", "b", "c"], "modality": "mesti", "modality_options": {}, "preprocess": None,
                "normalize": {"mean": [0.0] * 3, "std": [1.0] * 3}, "input_size": [3, 28, 28]}
    (path.parent / "fold.pipeline.json").write_text(json.dumps(pipeline))
    return path


@pytest.mark.parametrize("method", ["flow", "naive"])
def test_a_frame_size_changing_mid_video_is_named(mixed_sizes: Path, tmp_path: Path, method: str) -> None:
    # 40 frames: long enough for flow's lag at 9 fps
    one_line_error(run("spot", mixed_sizes, "--fps", "9", "-m", method, "--out", tmp_path / "s"), "f010.png",
                   "40 x 40", "48 x 48")
    assert not (tmp_path / "s").exists()


def test_analyze_a_frame_size_changing_mid_video(mixed_sizes: Path, checkpoint: Path, tmp_path: Path) -> None:
    one_line_error(run("analyze", mixed_sizes, "--fps", "9", "--model", checkpoint, "--out", tmp_path / "a"),
                   "f010.png", "same size")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("fps", ["inf", "-inf", "1e400"])
def test_an_infinite_fps_is_refused(clip_folder: Path, checkpoint: Path, tmp_path: Path, fps: str) -> None:
    one_line_error(run("spot", clip_folder, "--fps", fps, "--out", tmp_path / "s"), "--fps")
    one_line_error(run("analyze", clip_folder, "--fps", fps, "--model", checkpoint, "--out", tmp_path / "a"), "--fps")
    with pytest.raises(MestiError, match="--fps: the frame rate must be finite"):
        open_stream(clip_folder, float("inf"))


def test_an_out_name_over_255_bytes(tree: Path, tmp_path: Path) -> None:
    long = tmp_path / ("x" * 256)
    one_line_error(study(tree, tmp_path, "loso", "--out", long), "too long")
    one_line_error(study(tree, tmp_path, "train", "--out", long), "too long")
    one_line_error(run("synth", long, "--subjects", "1", "--clips-per-subject", "1", "--size", "32"), "too long")


@pytest.mark.parametrize(("command", "extra"), [("loso", ("--folds", "2", "--seed", "-1")), ("loso", ("--seed", "-1")),
                                                ("holdout", ("--seed", "-1")), ("loso", ("--seeds=-1",)),
                                                ("loso", ("--seeds", "0,-3")), ("train", ("--seed", "-1")),
                                                ("loso", ("--seed", str(2**32)))])
def test_a_negative_seed_is_refused_before_any_work(tree: Path, tmp_path: Path, command: str, extra: tuple[str, ...]) -> None:
    one_line_error(study(tree, tmp_path, command, "--out", tmp_path / "r", *extra), "--seed", "0..4294967295")
    assert not (tmp_path / "r").exists() and not (tmp_path / "cache").exists()


def test_synth_with_a_negative_seed(tmp_path: Path) -> None:
    one_line_error(run("synth", tmp_path / "s", "--seed", "-1", "--subjects", "1", "--clips-per-subject", "1"), "--seed")
    one_line_error(run("synth", tmp_path / "s", "--long", "--seed", "-1", "--subjects", "1", "--seconds", "5"), "--seed")
    assert not (tmp_path / "s").exists()


def test_seeds_are_checked_wherever_they_enter() -> None:
    for make in (lambda: TrainConfig(seed=-1), lambda: HoldOut(seed=-1), lambda: SubjectKFold(seed=-2),
                 lambda: HoldOut(seed=2**32 - 1, repeats=2),
                 lambda: StudySpec(DatasetSpec("casme2", "x"), seeds=(-1,)), lambda: StudySpec(DatasetSpec("casme2", "x"), seeds="0,1")):  # type: ignore[arg-type]
        with pytest.raises(MestiError, match="seed"):
            make()


def test_train_val_fraction_leaving_no_training_subject(tree: Path, tmp_path: Path) -> None:
    one_line_error(study(tree, tmp_path, "train", "--val-fraction", "0.99", "--out", tmp_path / "b"), "--val-fraction",
                   "leaves none to train on", "at most 0.75")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["train", "loso"])
def test_img_size_100000_is_refused_before_the_data_is_read(tree: Path, tmp_path: Path, command: str) -> None:
    one_line_error(study(tree, tmp_path, command, "--img-size", "100000", "--out", tmp_path / "o"), "--img-size", "<= 4096")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o").exists()


def test_holdout_by_sample_smaller_than_the_classes(tree: Path, tmp_path: Path) -> None:
    # 12 clips, 3 classes: 10 % is 2 test clips, fewer than the classes
    one_line_error(study(tree, tmp_path, "holdout", "--by-sample", "--out", tmp_path / "r"), "--test-fraction",
                   "one clip of each of the 3 classes")
    with pytest.raises(MestiError, match="every class at least twice"):
        HoldOut(by_subject=False).folds(np.array([0, 0, 1, 1, 2]), ["a"] * 5, ["d"] * 5)


@linux_only
def test_an_uncreatable_cache_or_out(tree: Path, tmp_path: Path) -> None:
    base = ["loso", "--dataset", "casme2", "--root", tree, "--classes", "3", "-m", "mesti", "--model", "ststnet",
            "--epochs", "1", "--face", "none", "--size", "32"]
    one_line_error(run(*base, "--out", tmp_path / "r", env={"MESTI_CACHE": "/proc/nope"}), "/proc/nope")
    one_line_error(run(*base, "--out", tmp_path / "r", "--cache", "/proc/nope"), "/proc/nope")
    one_line_error(run(*base, "--out", "/proc/nope/r", "--cache", tmp_path / "c"), "/proc/nope/r", "cannot write here")
    assert not (tmp_path / "c").exists()  # refused before any preparation
    one_line_error(study(tree, tmp_path, "train", "--out", "/proc/nope/b"), "cannot write here")
    assert not (tmp_path / "cache").exists()  # refused before the data was prepared, not after the training


def _full_disk_open(real_open):  # type: ignore[no-untyped-def]
    class Full:
        def __init__(self, fh) -> None:  # type: ignore[no-untyped-def]
            self.fh = fh

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            self.fh.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    return lambda path, mode="r", *a, **k: Full(real_open(path, mode, *a, **k))


def test_a_full_disk_is_one_line_and_keeps_the_old_file(clip_folder: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.png"
    out.write_bytes(b"the user's earlier picture")
    monkeypatch.setattr(atomic, "open", _full_disk_open(open), raising=False)
    one_line_error(run("encode", clip_folder, "-m", "mesti", "--out", out), "m.png", "no space left on the device")
    assert out.read_bytes() == b"the user's earlier picture" and sorted(tmp_path.iterdir()) == [tmp_path / "clip", out]
    with pytest.raises(MestiError, match="no space left"):
        atomic.write_text(tmp_path / "t.txt", "x")
    assert not (tmp_path / "t.txt").exists()


def test_an_os_error_about_a_path_is_one_line_anywhere(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def named() -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/data/x")

    for fn, words in ((full, "no space left"), (named, "/data/x: cannot read or write here (Permission denied)")):
        with pytest.raises(typer.Exit) as exit_info:
            handles_errors(fn)()
        assert exit_info.value.exit_code == 2 and words in capsys.readouterr().err


def _paper_run(tmp_path: Path, metrics: str) -> Path:
    runs = tmp_path / "runs"
    (runs / "table3").mkdir(parents=True)
    (runs / "table3" / "part1.yaml").write_text("datasets: [{name: casme2, root: x, classes: 3}]\nprotocols: [{name: loso}]\n"
                                                "modalities: [mesti]\nmodels: [meganet]\n")
    cell = runs / "table3" / "part1" / "casme2-3c" / "loso" / "mesti" / "meganet"
    cell.mkdir(parents=True)
    (cell / "metrics.json").write_text(metrics)
    return runs


@pytest.mark.parametrize(("metrics", "words"), [("{", "not valid JSON"), ("[1]", "not a metrics record"),
                                                ('{"accuracy": 0.5, "uf1": 99, "uar": 0.5, "n": 3}', "uf1 99")])
def test_paper_report_on_a_corrupt_metrics_file(tmp_path: Path, metrics: str, words: str) -> None:
    runs = _paper_run(tmp_path, metrics)
    one_line_error(run("paper", "report", runs), "metrics.json", words)
    assert not (runs / "paper_report.md").exists()


@pytest.mark.parametrize(("seeds", "words"), [('"0,1"', "must be a list of whole numbers"), ("[-1]", "seed must be >= 0"),
                                              ("[a]", "must be a list of whole numbers"), ("[0, 0]", "each once")])
def test_grid_seeds_that_are_not_a_list_of_seeds(tree: Path, tmp_path: Path, seeds: str, words: str) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"datasets: [{{name: casme2, root: {tree}, classes: 3}}]\nmodalities: [mesti]\nmodels: [ststnet]\n"
                    f"protocols: [loso]\nseeds: {seeds}\ntraining: {{epochs: 1}}\n")
    one_line_error(run("grid", grid, "--out", tmp_path / "g"), "seeds", words)
    assert not (tmp_path / "g").exists()


def test_a_class_label_that_is_rich_markup(tmp_path: Path) -> None:
    for i in range(4):
        write_frames(tmp_path / "clips" / f"c{i}", moving_clip(length=4, size=16, seed=i))
    (tmp_path / "manifest.csv").write_text("path,subject,label\nclips/c0,s1,[/]\nclips/c1,s2,[bold]x\n"
                                           "clips/c2,s2,[/]\nclips/c3,s1,[bold]x\n")
    res = run("loso", "--dataset", "folder", "--root", tmp_path, "-m", "mesti", "--model", "ststnet", "--epochs", "1",
              "--face", "none", "--size", "16", "--img-size", "28", "--cache", tmp_path / "cache", "--device", "cpu",
              "--save-checkpoints", "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert "2 [/], 2 [bold]x" in " ".join(res.output.split()) or "2 [bold]x, 2 [/]" in " ".join(res.output.split())
    res = run("predict", tmp_path / "clips" / "c0", "--model", tmp_path / "run")
    assert res.exit_code == 0, res.output
    assert "[/]" in res.output and "[bold]x" in res.output
