"""Issue 16 item 9: each of these was a traceback (exit 1); now one line, exit 2, nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.models import create_model, save_checkpoint
from tests.studies.study_tree import write_study_tree

runner = CliRunner()
READ_ONLY = Path("/proc/self")  # no file can be created here, not even by root
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def run(*args: object):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output + repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.output.rstrip().endswith(errors[0]), result.output  # progress may precede it
    for word in words:
        assert word in result.output, result.output


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"), subjects=2, per_class=1)


def loso(tree: Path, out: Path, cache: Path, *extra: object):  # type: ignore[no-untyped-def]
    return run("loso", "--dataset", "casme2", "--root", tree, "--classes", "3", "--modality", "mesti",
               "--model", "ststnet", "--epochs", "1", "--face", "none", "--size", "32", "--cache", cache,
               "--out", out, *extra)


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    path = save_checkpoint(create_model("ststnet", 3), tmp_path / "ckpt" / "fold.pt")
    pipeline = {"classes": ["a", "b", "c"], "modality": "mesti", "modality_options": {}, "preprocess": None,
                "normalize": {"mean": [0.0] * 3, "std": [1.0] * 3}, "input_size": [3, 28, 28]}
    (path.parent / "fold.pipeline.json").write_text(json.dumps(pipeline))
    return path


def test_encode_out_under_a_file(clip_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "FILE").write_text("x")
    one_line_error(run("encode", clip_folder, "-m", "mesti", "--out", tmp_path / "FILE" / "o.png"), "not a folder")
    one_line_error(run("encode", clip_folder, "--all", "--out", tmp_path / "FILE" / "d"), "not a folder")


@linux_only
def test_encode_into_a_read_only_place(clip_folder: Path) -> None:
    one_line_error(run("encode", clip_folder, "-m", "apex", "--out", READ_ONLY / "o.png"), "cannot write here")


def test_loso_out_or_cache_a_file(tree: Path, tmp_path: Path) -> None:
    f = tmp_path / "FILE"
    f.write_text("x")
    one_line_error(loso(tree, f, tmp_path / "cache"), "--out")
    one_line_error(loso(tree, tmp_path / "run", f), "--cache")
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


@pytest.mark.skipif(torch.cuda.device_count() > 7, reason="this machine has a cuda:7")
def test_loso_on_a_missing_device_writes_nothing(tree: Path, tmp_path: Path) -> None:
    one_line_error(loso(tree, tmp_path / "run", tmp_path / "cache", "--device", "cuda:7"), "cuda:7")
    one_line_error(loso(tree, tmp_path / "run", tmp_path / "cache", "--device", "gpu"), "not a device")
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("content", ['[1, 2]', '{"classes": "abc"}', '{"classes": ["a"], "normalize": {}, "input_size": [3, 28, 28]}',
                                     '{"classes": ["a"], "normalize": {"mean": [0], "std": [1]}, "input_size": [28, 28]}'])
def test_predict_with_a_pipeline_of_the_wrong_shape(clip_folder: Path, checkpoint: Path, content: str) -> None:
    (checkpoint.parent / "fold.pipeline.json").write_text(content)
    one_line_error(run("predict", clip_folder, "--checkpoint", checkpoint), "fold.pipeline.json")


@linux_only
def test_predict_pictures_in_a_read_only_place(clip_folder: Path, checkpoint: Path) -> None:
    one_line_error(run("predict", clip_folder, "--checkpoint", checkpoint, "--pictures", READ_ONLY / "p"), "cannot write here")


def test_export_opset_out_of_range(checkpoint: Path, tmp_path: Path) -> None:
    one_line_error(run("export", checkpoint, "--onnx", tmp_path / "m.onnx", "--opset", "99"), "--opset", "17..")
    assert not (tmp_path / "m.onnx").exists()


@linux_only
def test_export_onnx_in_a_read_only_place(checkpoint: Path) -> None:
    pytest.importorskip("onnxruntime")
    one_line_error(run("export", checkpoint, "--onnx", READ_ONLY / "m.onnx"), "cannot write here")


def test_a_missing_checkpoint_is_named_as_missing(tmp_path: Path) -> None:
    one_line_error(run("export", tmp_path / "none.pt", "--onnx", tmp_path / "m.onnx"), "no such checkpoint file")
