"""End to end through the CLI: dataset -> prepare -> LOSO -> run directory, resume, grid, predict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.protocols import LeaveOneSubjectOut
from mesti.engine.config import TrainConfig
from mesti.studies.run import Experiment, run_experiment
from mesti.studies.inputs import load_samples
from mesti.utils.hooks import Functions
from tests.studies.study_tree import study_of, write_study_tree

runner = CliRunner()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"))


def loso_args(tree: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["loso", "--dataset", "casme2", "--root", str(tree), "--classes", "3", "--modality", "mesti",
            "--model", "ststnet", "--epochs", "4", "--face", "none", "--size", "32", "--cache", str(cache),
            "--device", "cpu", "--out", str(out), *extra]


def test_loso_run_directory(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = runner.invoke(app, loso_args(tree, out, tmp_path / "cache"))
    assert res.exit_code == 0, res.output + str(res.exception)
    for name in ("config.yaml", "predictions.csv", "metrics.json", "confusion.png", "curves.png", "report.md"):
        assert (out / name).is_file(), name
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["protocol"]["name"] == "loso" and config["protocol"]["n_folds"] == 4
    assert config["modality"] == "mesti" and config["training"]["epochs"] == 4
    preds = pd.read_csv(out / "predictions.csv")
    assert len(preds) == 24 and set(preds["fold"]) == {"casme2-sub01", "casme2-sub02", "casme2-sub03", "casme2-sub04"}
    for _, row in preds.iterrows():  # each clip is tested in its own subject's fold
        assert row["fold"].endswith(row["subject"])
    assert {"prob_negative", "prob_positive", "prob_surprise"} <= set(preds.columns)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 24 and 0 <= metrics["uf1"] <= 1 and "LOSO" in metrics["protocol"]
    assert metrics["per_fold"]["n_folds"] == 4
    report = (out / "report.md").read_text()
    assert "LOSO" in report and "UF1" in report


def test_interrupted_run_resumes_to_identical_metrics(tree: Path, tmp_path: Path) -> None:
    inputs = load_samples(study_of("casme2", tree, modality="mesti", classes=3, size=32, face="none", cache=tmp_path / "c"))
    cfg = TrainConfig(epochs=3, device="cpu", seed=4)
    full = run_experiment(inputs, Experiment("ststnet", LeaveOneSubjectOut(), cfg), tmp_path / "full")

    class Crash(Exception):
        pass

    def crash_at_third(name: str, i: int, n: int) -> None:
        if i == 2:
            raise Crash

    with pytest.raises(Crash):
        run_experiment(inputs, Experiment("ststnet", LeaveOneSubjectOut(), cfg), tmp_path / "part", hooks=Functions(fold_started=crash_at_third))
    assert not (tmp_path / "part" / "metrics.json").exists()  # nothing that looks complete
    assert len(list((tmp_path / "part" / "folds").glob("*.json"))) == 2
    trained: list[str] = []
    resumed = run_experiment(inputs, Experiment("ststnet", LeaveOneSubjectOut(), cfg), tmp_path / "part",
                             hooks=Functions(epoch_ended=lambda e, t, s: trained.append(str(e))))
    assert len(trained) == 2 * 3  # only the two unfinished folds trained
    assert resumed == full
    assert (tmp_path / "part" / "predictions.csv").read_text() == (tmp_path / "full" / "predictions.csv").read_text()


def test_killed_process_resumes(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    args = [sys.executable, "-m", "mesti", *loso_args(tree, out, cache, "--epochs", "25")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list((out / "folds").glob("*.json")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists(), "finished before it could be killed; raise --epochs"
    done_before = len(list((out / "folds").glob("*.json")))
    assert 1 <= done_before < 4
    assert not [p for p in (out / "folds").iterdir() if p.suffix != ".json"]  # no torn temporary files
    res = runner.invoke(app, loso_args(tree, out, cache, "--epochs", "25"))
    assert res.exit_code == 0, res.output
    ref = runner.invoke(app, loso_args(tree, tmp_path / "ref", cache, "--epochs", "25"))
    assert ref.exit_code == 0
    assert json.loads((out / "metrics.json").read_text()) == json.loads((tmp_path / "ref" / "metrics.json").read_text())


def test_other_config_in_the_same_run_dir_is_refused(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, loso_args(tree, out, tmp_path / "c", "--epochs", "1")).exit_code == 0
    res = runner.invoke(app, loso_args(tree, out, tmp_path / "c", "--epochs", "2"))
    assert res.exit_code == 2 and "another configuration" in res.stderr and "training" in res.stderr


def test_grid_skips_finished_cells(tree: Path, tmp_path: Path) -> None:
    grid = {
        "datasets": [{"name": "casme2", "root": str(tree), "classes": 3}],
        "modalities": ["mesti", "apex"],
        "models": ["ststnet"],
        "protocols": [{"name": "kfold", "k": 2}],
        "training": {"epochs": 2, "device": "cpu"},
        "size": 32,
        "face": "none",
        "cache": str(tmp_path / "cache"),
    }
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(yaml.safe_dump(grid))
    out = tmp_path / "grid"
    res = runner.invoke(app, ["grid", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 and set(summary["modality"]) == {"mesti", "apex"}
    metrics = sorted(out.rglob("metrics.json"))
    stamps = [p.stat().st_mtime_ns for p in metrics]
    res = runner.invoke(app, ["grid", str(cfg), "--out", str(out)])
    assert res.exit_code == 0
    assert [p.stat().st_mtime_ns for p in metrics] == stamps
    assert (out / "summary.md").is_file()


def test_grid_file_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "grid.yaml"
    cfg.write_text("datasets: []\nmodalities: [mesti]\nmodels: [meganet]\nprotocols: [loso]\n")
    res = runner.invoke(app, ["grid", str(cfg), "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "'datasets' must list" in res.stderr
    cfg.write_text("datasets: [{name: casme2, root: x}]\nmodalities: [mesti]\nmodels: [meganet]\nprotocols: [loso]\ntraining: {epoch: 2}\n")
    res = runner.invoke(app, ["grid", str(cfg), "--out", str(tmp_path / "g")])
    assert res.exit_code == 2 and "unknown option" in res.stderr
    assert not (tmp_path / "g").exists()


def test_predict_a_clip_with_a_saved_fold_model(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["loso", "--dataset", "casme2", "--root", str(tree), "--classes", "3", "--modality", "mesti",
            "--model", "meganet", "--img-size", "32", "--epochs", "1", "--folds", "2", "--face", "none", "--size", "32",
            "--cache", str(tmp_path / "c"), "--device", "cpu", "--save-checkpoints", "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output + str(res.exception)
    ckpts = sorted((out / "checkpoints").glob("*.pt"))
    assert len(ckpts) == 2
    clip = tree / "sub01" / "EP01_01f"
    res = runner.invoke(app, ["predict", str(clip), "--checkpoint", str(ckpts[0]), "--apex", "3", "--json",
                              "--pictures", str(tmp_path / "pics")])
    assert res.exit_code == 0, res.output + str(res.exception)
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert result["prediction"] in {"negative", "positive", "surprise"}
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert (tmp_path / "pics" / "mesti.png").is_file() and (tmp_path / "pics" / "attention.png").is_file()
    res = runner.invoke(app, ["predict", str(clip), "--checkpoint", str(tmp_path / "none.pt")])
    assert res.exit_code == 2


def test_loso_on_a_precomputed_image_manifest(tmp_path: Path) -> None:
    """Images the project never made (e.g. a user's own flow images), one per sample, int labels."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "flow_images"
    rng = np.random.default_rng(0)
    rows = ["path,subject,label,clip,notes"]
    for s in range(3):
        for i in range(6):
            label = i % 2
            img = rng.integers(0, 60, size=(20, 20, 3), dtype=np.uint8)
            img[:, (10 if label else 0):(10 if label else 10)] += 150
            rel = Path(f"s{s}") / f"c{i}.png"
            (root / rel.parent).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / rel)
            rows.append(f"{rel.as_posix()},s{s},{label},c{i},ignored")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    res = runner.invoke(app, ["loso", "--dataset", "folder", "--root", str(root), "--manifest", str(root / "manifest.csv"),
                              "--model", "ststnet", "--epochs", "2", "--device", "cpu", "--out", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 18 and metrics["per_fold"]["n_folds"] == 3
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["modality"] == "precomputed images"
    # a path escaping the root is refused, and nothing is written
    (root / "manifest.csv").write_text("path,subject,label\n../outside.png,s0,0\n")
    res = runner.invoke(app, ["loso", "--dataset", "folder", "--root", str(root), "--manifest", str(root / "manifest.csv"),
                              "--model", "ststnet", "--out", str(tmp_path / "bad")])
    assert res.exit_code == 2 and ".." in res.stderr
    assert not (tmp_path / "bad").exists()
