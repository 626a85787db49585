"""``mesti prepare`` on a CASME II tree: summary, report, re-run, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mesti.cache import REPORT_NAME, read_index
from mesti.cli.main import app

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["prepare", *args])


def test_prepare_then_rerun(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "cache"
    (tree / "sub02" / "EP01_02f" / "img14.jpg").unlink()
    args = ["--dataset", "casme2", "--root", str(tree), "--modalities", "mesti,apex", "--size", "24",
            "--face", "none", "--workers", "1", "--out", str(out)]

    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "4 prepared, 1 skipped" in first.output
    assert "casme2/sub02/EP01_02f" in first.output and "img14.jpg" in first.output
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["preprocess"]["face"] == "none" and report["computed"] == 8
    assert len(read_index(out, "apex").entries) == 4

    second = run(*args)
    assert second.exit_code == 0, second.output
    assert "0 images computed, 8 reused" in second.output


def test_prepare_with_three_classes_and_no_equalisation(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "cache"
    result = run("--dataset", "casme2", "--root", str(tree), "--classes", "3", "-m", "apex", "--size", "16",
                 "--face", "none", "--no-equalize", "-j", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    index = read_index(out, "apex")
    assert index.class_names == ["negative", "positive", "surprise"]
    assert index.settings["preprocess"]["equalize"] == "off"


def test_bad_arguments_are_one_line_errors(tree: Path, tmp_path: Path) -> None:
    base = ["--dataset", "casme2", "--root", str(tree), "--out", str(tmp_path / "c"), "-j", "1"]
    for extra, message in (
        (["-m", "mesti,warp_field"], "unknown modality 'warp_field'"),
        (["--face", "mtcnn"], "unknown face mode 'mtcnn'"),
        (["--no-equalize", "--equalize", "clip"], "conflicts with --equalize clip"),
        (["--scale", "loud"], "unknown scaling 'loud'"),
    ):
        result = run(*base, *extra)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output
    result = run("--dataset", "casme3000", "--root", str(tree), "--out", str(tmp_path / "c"))
    assert result.exit_code == 2 and "unknown dataset 'casme3000'" in result.output


def test_nothing_prepared_exits_non_zero(tree: Path, tmp_path: Path) -> None:
    for frame in tree.glob("sub*/*/img10.jpg"):
        frame.unlink()  # every clip loses its onset frame
    result = run("--dataset", "casme2", "--root", str(tree), "-m", "apex", "--face", "none", "--size", "16",
                 "-j", "1", "--out", str(tmp_path / "c"))
    assert result.exit_code == 1
    assert "0 prepared, 5 skipped" in result.output
