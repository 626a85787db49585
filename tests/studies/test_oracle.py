"""--report-oracle: the leaky per-fold best-test-epoch figure beside the honest one.

What is tested, precisely: each fold's honest test predictions are exactly (bit for bit) the
recorded test predictions of one of its epochs (the last one, or the best-validation one with
--val-fraction), so the oracle, which takes per fold the epoch with the most correct test
predictions, has at least as many correct predictions in every fold, hence a pooled accuracy
never lower than the honest one (UF1 / UAR carry no such guarantee and are not asserted).
Recording the oracle changes no honest prediction: with and without it the runs are equal.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.protocols.splits import LeaveOneSubjectOut
from mesti.engine.config import TrainConfig
from mesti.studies.run import Experiment, run_experiment
from mesti.reports.metrics import ORACLE_KEY, ORACLE_LABEL
from tests.studies.image_tree import image_folder
from tests.engine.toys import toy_samples


def _folds(run: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {p.stem: json.loads(p.read_text()) for p in sorted((run / "folds").glob("*.json"))}


@pytest.mark.parametrize(("engine", "val_fraction"), [("sequential", 0.0), ("sequential", 0.34), ("stacked", 0.0),
                                                      ("stacked", 0.34)])
def test_oracle_is_never_below_honest_and_changes_no_honest_prediction(tmp_path: Path, engine: str,
                                                                       val_fraction: float) -> None:
    samples = toy_samples(sizes=(9, 9, 9, 9), size=16)
    runs = {}
    for oracle in (False, True):
        cfg = TrainConfig(epochs=4, batch_size=8, lr=3e-3, device="cpu", val_fraction=val_fraction, patience=2,
                          report_oracle=oracle)
        runs[oracle] = run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), cfg, img_size=16, engine=engine), tmp_path / str(oracle))
    honest, leaky = runs[False], runs[True]
    # the honest figure and every honest prediction are identical with and without the oracle
    plain, recorded = _folds(tmp_path / "False"), _folds(tmp_path / "True")
    assert {k: v["probs"] for k, v in plain.items()} == {k: v["probs"] for k, v in recorded.items()}
    assert (tmp_path / "False" / "predictions.csv").read_bytes() == (tmp_path / "True" / "predictions.csv").read_bytes()
    assert {k: honest[k] for k in ("accuracy", "uf1", "uar")} == {k: leaky[k] for k in ("accuracy", "uf1", "uar")}
    assert ORACLE_KEY not in honest and all(f["leaky_test_probs_per_epoch"] is None for f in plain.values())
    labels = samples.labels.tolist()
    for fold in recorded.values():
        per_epoch = fold["leaky_test_probs_per_epoch"]
        assert len(per_epoch) == len(fold["history"]["epoch"])
        assert fold["probs"] in per_epoch  # the honest epoch is one of the oracle's candidates
        truth = np.array([labels[i] for i in fold["test_index"]])
        correct = [int((np.argmax(p, axis=1) == truth).sum()) for p in per_epoch]
        chosen = leaky[ORACLE_KEY]["epochs"][fold["name"]]
        assert correct[fold["history"]["epoch"].index(chosen)] == max(correct)
        assert max(correct) >= int((np.argmax(fold["probs"], axis=1) == truth).sum())
    assert leaky[ORACLE_KEY]["accuracy"] >= leaky["accuracy"]
    assert leaky[ORACLE_KEY]["label"] == ORACLE_LABEL and leaky[ORACLE_KEY]["n"] == leaky["n"]
    report = (tmp_path / "True" / "report.md").read_text()
    assert "Leaky oracle (not an estimate)" in report and ORACLE_LABEL in report
    assert "Leaky oracle" not in (tmp_path / "False" / "report.md").read_text()


def test_the_oracle_is_part_of_the_config_a_resume_compares(tmp_path: Path) -> None:
    samples = toy_samples(sizes=(6, 6), size=16)
    cfg = TrainConfig(epochs=1, batch_size=4, device="cpu")
    run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), cfg, img_size=16, engine="sequential"), tmp_path / "run")
    with pytest.raises(MestiError, match="differs in: training"):
        run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), TrainConfig(epochs=1, batch_size=4, device="cpu",
                       report_oracle=True), img_size=16, engine="sequential"), tmp_path / "run")


def test_cli_seeds_and_grid_label_the_oracle(tmp_path: Path) -> None:
    manifest = image_folder(tmp_path / "images")
    images = tmp_path / "images"
    runner = CliRunner()
    common = ["--dataset", "folder", "--root", str(images), "--manifest", str(manifest), "--model", "ststnet",
              "--epochs", "2", "--batch-size", "6", "--img-size", "16", "--device", "cpu"]
    res = runner.invoke(app, ["loso", *common, "--seeds", "0,1", "--report-oracle", "--out", str(tmp_path / "loso")])
    assert res.exit_code == 0, res.output
    printed = " ".join(res.output.split())  # the console wraps long lines
    assert printed.index("accuracy") < printed.index(ORACLE_LABEL)  # the honest line first
    summary = json.loads((tmp_path / "loso" / "metrics.json").read_text())
    assert summary[ORACLE_KEY]["label"] == ORACLE_LABEL and summary[ORACLE_KEY]["accuracy"] >= summary["accuracy"]
    assert ORACLE_LABEL in (tmp_path / "loso" / "seeds.md").read_text()
    config = yaml.safe_load((tmp_path / "loso" / "seed-0" / "config.yaml").read_text())
    assert config["training"]["report_oracle"] is True
    grid = {"datasets": [{"name": "images", "root": str(images), "manifest": str(manifest)}], "modalities": ["images"],
            "models": ["ststnet"], "protocols": ["loso"], "img_size": 16, "report_oracle": True,
            "training": {"epochs": 2, "batch_size": 6, "device": "cpu"}}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    res = runner.invoke(app, ["grid", str(tmp_path / "grid.yaml"), "--out", str(tmp_path / "grid")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "grid" / "summary.md").read_text()
    assert ORACLE_LABEL in md and f"{ORACLE_KEY}_accuracy" in md
    row = json.loads((tmp_path / "grid" / "summary.json").read_text())[0]
    assert row[f"{ORACLE_KEY}_accuracy"] >= row["accuracy"]


def test_a_bundle_estimate_does_not_depend_on_the_oracle() -> None:
    from mesti.bundle.estimate import comparable

    with_oracle = comparable({"training": {"epochs": 2, "report_oracle": True}, "classes": ["a", "b"]})
    assert with_oracle == comparable({"training": {"epochs": 2}, "classes": ["a", "b"]})
    assert with_oracle != comparable({"training": {"epochs": 3}, "classes": ["a", "b"]})
