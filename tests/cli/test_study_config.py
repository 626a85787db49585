"""``mesti loso|holdout|train --config FILE [KEY=VALUE ...]`` and ``mesti config show``: one
study file (the grid file's schema for one cell), overrides, the flags as generated shorthands,
and the run folder's versioned config.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from tests.studies.study_tree import write_study_tree

runner = CliRunner()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_study_tree(tmp_path_factory.mktemp("casme2"), subjects=3, per_class=2)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def cell(tree: Path, cache: Path, **over: object) -> dict[str, object]:
    return {"dataset": {"name": "casme2", "root": str(tree), "classes": 3, "cache": str(cache / "casme2")},
            "modality": "mesti", "model": "ststnet", "protocol": "loso",
            "training": {"epochs": 2, "device": "cpu", "batch_size": 8}, "size": 32, "face": "none", **over}


def write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def ok(res) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 0, res.output + str(res.exception)


def one_line(res, *parts: str, after_progress: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Exit 2 and one error line (``after_progress``: below the progress lines a run prints first)."""
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    lines = [line for line in lines if line.startswith("error:")] if after_progress else lines
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stderr, res.stderr
    for part in parts:
        assert part in lines[0], lines[0]


def test_config_flags_and_grid_cell_give_identical_metrics(tree: Path, cache: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "cell.yaml", cell(tree, cache))
    ok(runner.invoke(app, ["loso", "--config", str(path), "--out", str(tmp_path / "from-config")]))
    ok(runner.invoke(app, ["loso", "--dataset", "casme2", "--root", str(tree), "--classes", "3", "--modality", "mesti",
                           "--model", "ststnet", "--epochs", "2", "--batch-size", "8", "--device", "cpu", "--size", "32",
                           "--face", "none", "--cache", str(cache / "casme2"), "--out", str(tmp_path / "from-flags")]))
    grid = {"datasets": [{"name": "casme2", "root": str(tree), "classes": 3}], "modalities": ["mesti"],
            "models": ["ststnet"], "protocols": ["loso"], "training": {"epochs": 2, "device": "cpu", "batch_size": 8},
            "size": 32, "face": "none", "cache": str(cache)}
    ok(runner.invoke(app, ["grid", str(write(tmp_path / "grid.yaml", grid)), "--out", str(tmp_path / "grid")]))
    runs = [tmp_path / "from-config", tmp_path / "from-flags", tmp_path / "grid" / "casme2-3c" / "loso" / "mesti" / "ststnet"]
    metrics = [json.loads((r / "metrics.json").read_text()) for r in runs]
    assert metrics[0] == metrics[1] == metrics[2] and metrics[0]["n"] == 18
    predictions = [(r / "predictions.csv").read_text() for r in runs]
    assert predictions[0] == predictions[1] == predictions[2]
    study = yaml.safe_load((runs[0] / "config.yaml").read_text())["study"]
    assert study == yaml.safe_load((runs[1] / "config.yaml").read_text())["study"]  # one spec, either way asked


def show(*args: str) -> dict[str, object]:
    res = runner.invoke(app, ["config", "show", *args])
    ok(res)
    return yaml.safe_load(res.stdout)


def test_config_show_prints_the_resolved_study(tree: Path, cache: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "cell.yaml", cell(tree, cache, seeds=[0, 1], executor={"name": "local"}))
    shown = show("--config", str(path))
    assert list(shown) == ["dataset", "modality", "modality_options", "model", "model_kwargs", "protocol", "training",
                           "size", "img_size", "face", "equalize", "engine", "folds_per_group", "seeds",
                           "save_checkpoints", "executor"]
    assert shown["dataset"] == {"name": "casme2", "root": str(tree), "classes": 3, "cache": str(cache / "casme2")}
    assert shown["protocol"] == {"name": "loso"} and shown["seeds"] == [0, 1] and shown["executor"] == "local"
    # the command line's own defaults sit under the file; the file's options stay
    assert shown["training"] == {"device": "cpu", "val_fraction": 0.0, "recipe": "paper", "epochs": 2, "batch_size": 8}
    assert (shown["model"], shown["size"], shown["face"], shown["equalize"], shown["engine"]) == \
        ("ststnet", 32, "none", "frame", "auto")
    # what it prints is a study file that resolves to itself
    again = show("--config", str(write(tmp_path / "shown.yaml", shown)))
    assert again == shown


def test_flags_override_overrides_override_the_file(tree: Path, cache: Path, tmp_path: Path) -> None:
    path = str(write(tmp_path / "cell.yaml", cell(tree, cache, training={"epochs": 5, "device": "cpu"})))
    assert show("--config", path)["training"]["epochs"] == 5
    assert show("--config", path, "training.epochs=4")["training"]["epochs"] == 4
    assert show("--config", path, "training.epochs=4", "--epochs", "3")["training"]["epochs"] == 3
    assert show("--config", path, "--epochs", "3", "training.epochs=4")["training"]["epochs"] == 3  # order of words aside
    shown = show("--config", path, "--seed", "7", "--folds", "2", "model=meganet", "training.lr=0.01",
                 "protocol={name: kfold, k: 4}", "protocol.seed=3")
    assert shown["seeds"] == [7] and shown["model"] == "meganet" and shown["training"]["lr"] == 0.01
    assert shown["protocol"] == {"name": "kfold", "k": 2, "seed": 3}
    assert show("--config", path, "protocol.seed=3", "--folds", "2")["protocol"] == {"name": "kfold", "k": 2}  # another protocol
    assert show("--config", path, "--executor", "ray", "--fold-tasks", "2")["executor"] == {"name": "ray", "fold_tasks": 2}
    holdout = show("--config", path, "protocol=holdout", "--test-fraction", "0.2")["protocol"]
    assert holdout == {"name": "holdout", "test_fraction": 0.2, "repeats": 1, "by_subject": True}
    assert show("--config", path, "--by-sample")["protocol"]["by_subject"] is False  # the flag says the opposite key


def test_a_bad_study_file_or_override_is_one_line_naming_it(tree: Path, cache: Path, tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "run")]
    listed = write(tmp_path / "list.yaml", [cell(tree, cache)])
    one_line(runner.invoke(app, ["loso", "--config", str(listed), *out]), "list.yaml", "a study file is a YAML mapping")
    unknown = write(tmp_path / "unknown.yaml", cell(tree, cache, modalities=["mesti"]))
    one_line(runner.invoke(app, ["loso", "--config", str(unknown), *out]), "unknown.yaml: modalities", "unknown key")
    bad = write(tmp_path / "bad.yaml", cell(tree, cache, training={"epochs": "many"}))
    one_line(runner.invoke(app, ["loso", "--config", str(bad), *out]), "bad.yaml", "training.epochs")
    good = str(write(tmp_path / "good.yaml", cell(tree, cache)))
    one_line(runner.invoke(app, ["loso", "--config", good, "trainig.epochs=3", *out]), "trainig.epochs=3", "unknown key")
    one_line(runner.invoke(app, ["loso", "--config", good, "training.epoch=3", *out]), "training.epoch=3", "unknown option")
    one_line(runner.invoke(app, ["loso", "--config", good, "training.epochs=0", *out]), "training.epochs=0",
             "must be at least 1")
    one_line(runner.invoke(app, ["loso", "--config", good, "epochs", *out]), "epochs", "KEY=VALUE")
    one_line(runner.invoke(app, ["loso", "--config", good, "protocol=holdout", *out]), "protocol",
             "not a protocol of mesti loso")
    one_line(runner.invoke(app, ["train", "--config", good, "seeds=[0, 1]", *out]), "seeds", "one seed")
    one_line(runner.invoke(app, ["loso", "--modality", "mesti", *out]), "dataset", "--dataset and --root")
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_an_old_run_folder_is_read_and_an_unknown_version_refused(tree: Path, cache: Path, tmp_path: Path) -> None:
    path = str(write(tmp_path / "cell.yaml", cell(tree, cache, training={"epochs": 1, "device": "cpu"})))
    run = tmp_path / "run"
    ok(runner.invoke(app, ["loso", "--config", path, "--out", str(run)]))
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert next(iter(config)) == "config_version" and config["config_version"] == 2
    metrics = (run / "metrics.json").read_text()
    # version 1 (before the key existed): same layout, read as it is, so the run resumes
    (run / "config.yaml").write_text(yaml.safe_dump({k: v for k, v in config.items() if k != "config_version"}))
    ok(runner.invoke(app, ["loso", "--config", path, "--out", str(run)]))
    assert (run / "metrics.json").read_text() == metrics
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "config_version": 9}))
    one_line(runner.invoke(app, ["loso", "--config", path, "--out", str(run)]), str(run / "config.yaml"),
             "config version 9 is not one this mesti reads", after_progress=True)
    (run / "config.yaml").write_text(yaml.safe_dump({k: v for k, v in config.items() if k not in ("model", "config_version")}))
    one_line(runner.invoke(app, ["loso", "--config", path, "--out", str(run)]), "config.yaml",
             "config version 1 lacks model", after_progress=True)
