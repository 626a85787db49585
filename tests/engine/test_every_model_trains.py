"""Issue 5's "done when": every registered network trains a step on synthetic-layout data from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.models import get_model_info, list_models
from tests.studies.study_tree import write_study_tree

runner = CliRunner()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"), subjects=2, per_class=1)


@pytest.mark.parametrize("model", list_models())
def test_model_trains_one_epoch_from_the_cli(model: str, tree: Path, tmp_path: Path) -> None:
    native = get_model_info(model).img_size
    img = [] if native[0] <= 32 else ["--img-size", "32"]  # small inputs keep 2 CPU cores quick
    modality = "flow_onset_apex" if native[0] <= 32 else "mesti"
    out = tmp_path / "run"
    res = runner.invoke(app, ["loso", "--dataset", "casme2", "--root", str(tree), "--classes", "3", "--modality", modality,
                              "--model", model, *img, "--epochs", "1", "--batch-size", "4", "--face", "none", "--size", "32",
                              "--cache", str(tmp_path / "cache"), "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 6 and metrics["per_fold"]["n_folds"] == 2
    fold = json.loads(next((out / "folds").glob("*.json")).read_text())
    assert len(fold["history"]["train_loss"]) == 1
