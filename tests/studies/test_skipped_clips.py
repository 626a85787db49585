"""Issue 16 item 4: a clip left out (a truncated frame) is said on screen and in the report; --strict refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from tests.studies.study_tree import write_study_tree

runner = CliRunner()


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_study_tree(tmp_path_factory.mktemp("casme2"), subjects=2, per_class=1)
    frame = sorted(root.glob("sub01/*/img6.jpg"))[0]
    frame.write_bytes(frame.read_bytes()[:40])  # truncated JPEG
    return root


def args(root: Path, tmp: Path, *extra: str) -> list[str]:
    return ["loso", "--dataset", "casme2", "--root", str(root), "--classes", "3", "--modality", "mesti",
            "--model", "ststnet", "--epochs", "1", "--face", "none", "--size", "32", "--device", "cpu",
            "--workers", "1", "--cache", str(tmp / "cache"), "--out", str(tmp / "run"), *extra]


def test_a_skipped_clip_is_reported_on_screen_and_in_the_report(damaged: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, args(damaged, tmp_path), env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    assert "1 clip(s) skipped" in res.output and "skipped casme2/sub01/" in res.output
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Skipped clips" in report and "casme2/sub01/" in report and "1 clip(s)" in report


def test_strict_makes_a_skip_an_error(damaged: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, args(damaged, tmp_path, "--strict"))
    assert res.exit_code == 2 and "error: casme2/sub01/" in res.output and "--strict" not in res.output.split("error:")[0]
    assert "1 clip(s) could not be prepared" in res.output
    assert not (tmp_path / "run" / "folds").exists()
    res = runner.invoke(app, ["prepare", "--dataset", "casme2", "--root", str(damaged), "--classes", "3", "-m", "mesti",
                              "--face", "none", "--size", "32", "-j", "1", "--out", str(tmp_path / "c2"), "--strict"])
    assert res.exit_code == 2 and "1 clip(s) could not be prepared" in res.output
