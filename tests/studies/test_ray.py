"""The Ray executor on a local cluster this test starts (2 CPUs, nothing external).

A 4-cell grid gives the local executor's metrics; a worker killed mid-cell is retried by
Ray and the cell resumes from the folds it recorded, to the same metrics.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import ray
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.studies import executors
from mesti.studies.executors import ExecutorSpec, run_cell, run_fold_group
from mesti.studies.grid import GridSpec, run_grid
from mesti.studies.spec import StudySpec
from mesti.utils.hooks import Functions
from tests.studies.image_tree import image_folder

runner = CliRunner()


def grid_file(tmp_path: Path) -> Path:
    manifest = image_folder(tmp_path / "images")
    grid = {"datasets": [{"name": "images", "root": str(tmp_path / "images"), "manifest": str(manifest)}],
            "modalities": ["images"], "models": ["ststnet", "off_apexnet"],
            "protocols": ["loso", {"name": "kfold", "k": 2}],
            "training": {"epochs": 2, "batch_size": 4, "device": "cpu"}}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    return tmp_path / "grid.yaml"


def cell_metrics(out: Path) -> dict[str, Any]:
    return {str(p.parent.relative_to(out)): json.loads(p.read_text()) for p in sorted(out.rglob("metrics.json"))}


def loso_args(tmp_path: Path, *extra: str) -> list[str]:
    manifest = image_folder(tmp_path / "images")
    return ["loso", "--dataset", "folder", "--root", str(tmp_path / "images"), "--manifest", str(manifest),
            "--model", "ststnet", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run"), *extra]


# These two run before the module's cluster starts (pytest keeps file order).
def test_ray_not_installed_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    res = runner.invoke(app, loso_args(tmp_path, "--executor", "ray"))
    assert res.exit_code == 2 and "pip install 'mesti[ray]'" in res.stderr, res.output
    assert not (tmp_path / "run").exists()


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    assert not ray.is_initialized()
    res = runner.invoke(app, loso_args(tmp_path, "--executor", "ray", "--address", "127.0.0.1:1"))
    assert res.exit_code == 2 and "cannot reach a Ray cluster" in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    res = runner.invoke(app, ["grid", str(grid_file(tmp_path)), "--out", str(tmp_path / "g"), "--executor", "ray",
                              "--address", "127.0.0.1:1"])
    assert res.exit_code == 2 and "cannot reach" in res.stderr and not (tmp_path / "g").exists()


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def dies_once(spec: StudySpec, run_dir: Path, command: str = "", **kwargs: Any) -> dict[str, Any]:
    """The LOSO STSTNet cell's first attempt kills its worker once a fold is recorded."""
    marker = run_dir.parent / f"{run_dir.name}.attempts"
    marker.parent.mkdir(parents=True, exist_ok=True)
    attempt = len(marker.read_text()) if marker.exists() else 0
    marker.write_text("x" * (attempt + 1))
    if attempt == 0 and spec.protocol["name"] == "loso" and spec.model == "ststnet":

        def kill_after_first_fold() -> None:
            while not list((run_dir / "folds").glob("*.json")):
                time.sleep(0.005)
            os._exit(1)  # as a crashed or preempted worker: no cleanup, no exception

        threading.Thread(target=kill_after_first_fold, daemon=True).start()
    return run_cell(spec, run_dir, command, **kwargs)


@pytest.mark.slow
def test_ray_grid_gives_the_local_metrics_and_survives_a_killed_worker(tmp_path: Path, cluster: None) -> None:
    spec = GridSpec.from_yaml(grid_file(tmp_path))
    local = run_grid(spec, tmp_path / "local")
    seen: list[str] = []
    rows = run_grid(spec, tmp_path / "ray", executor=ExecutorSpec(name="ray", max_retries=2), cell_fn=dies_once,
                    hooks=Functions(stage_advanced=lambda stage, done, total=None, text=None: seen.append(text)))
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert cell_metrics(tmp_path / "ray") == cell_metrics(tmp_path / "local")
    assert [r["uf1"] for r in rows] == [r["uf1"] for r in local]
    for cell in ("ststnet", "off_apexnet"):  # the killed cell ran twice, the others once
        attempts = (tmp_path / "ray" / "images" / "loso" / "images" / f"{cell}.attempts").read_text()
        assert len(attempts) == (2 if cell == "ststnet" else 1)
    killed = tmp_path / "ray" / "images" / "loso" / "images" / "ststnet"
    assert len(list((killed / "folds").glob("*.json"))) == 3
    assert any("running" in text for text in seen)
    assert (tmp_path / "ray" / "summary.md").read_text().count("| ok |") == 4


def fails_always(spec: StudySpec, run_dir: Path, command: str = "", **kwargs: Any) -> dict[str, Any]:
    if spec.model == "off_apexnet":
        os._exit(1)
    return run_cell(spec, run_dir, command, **kwargs)


@pytest.mark.slow
def test_a_cell_whose_worker_keeps_dying_is_reported_and_the_others_finish(tmp_path: Path, cluster: None) -> None:
    grid = yaml.safe_load(grid_file(tmp_path).read_text())
    grid["protocols"] = [{"name": "kfold", "k": 2}]
    grid["executor"] = {"name": "ray", "max_retries": 1}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    rows = run_grid(GridSpec.from_yaml(tmp_path / "grid.yaml"), tmp_path / "g", cell_fn=fails_always)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "after 1 retries" in rows[1]["error"]


def finds_a_run(spec: StudySpec, run_dir: Path, folds: list[str], command: str = "") -> dict[str, Any]:
    """A fold task that first checks its folder is already a run: tasks that start together
    must never see each other's half-made folder (one was refused as foreign files)."""
    from mesti.utils.outputs import output_kind

    assert output_kind(run_dir) == "run" and output_kind(run_dir.parent) == "run", run_dir
    return run_fold_group(spec, run_dir, folds, command)


@pytest.mark.slow
def test_one_study_in_groups_of_folds_gives_the_local_run(tmp_path: Path, cluster: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    args = loso_args(tmp_path, "--engine", "sequential", "--seeds", "0,1")
    assert runner.invoke(app, args).exit_code == 0
    args[args.index("--out") + 1] = str(tmp_path / "ray")
    monkeypatch.setattr(executors, "run_fold_group", finds_a_run)
    res = runner.invoke(app, [*args, "--executor", "ray", "--fold-tasks", "2"])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert cell_metrics(tmp_path / "ray") == cell_metrics(tmp_path / "run")  # both seeds and the summary over them
    for seed in (0, 1):  # probabilities agree to float rounding (a Ray task computes on one thread, here two)
        local, remote = (pd.read_csv(tmp_path / d / f"seed-{seed}" / "predictions.csv") for d in ("run", "ray"))
        pd.testing.assert_frame_equal(local, remote, check_exact=False, atol=1e-4)
        assert len(list((tmp_path / "ray" / f"seed-{seed}" / "folds").glob("*.json"))) == 3
    res = runner.invoke(app, [*loso_args(tmp_path), "--executor", "ray", "--fold-tasks", "2"])
    assert res.exit_code == 2 and "--engine sequential" in res.stderr


def _refused_in_time(fn: Any, seconds: float = 120) -> str:
    """``fn()``'s one-line refusal; a hang (Ray waiting forever for resources) fails the test."""
    from mesti.errors import MestiError

    said: dict[str, str] = {}

    def go() -> None:
        try:
            fn()
        except MestiError as exc:
            said["error"] = str(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the tasks wait forever for resources no node has"
    assert "error" in said, "infeasible resources were not refused"
    return said["error"]


def test_resources_no_node_has_are_refused_not_waited_for(tmp_path: Path, cluster: None) -> None:
    """Issue 22 D7: ``num_cpus: 64`` on a 2-CPU cluster (or ``num_gpus: 1`` without a GPU) hung forever."""
    spec = GridSpec.from_yaml(grid_file(tmp_path))
    error = _refused_in_time(lambda: run_grid(spec, tmp_path / "g", executor=ExecutorSpec(name="ray", num_cpus=64)))
    assert "64 CPU" in error and "2 CPU" in error and "num_cpus" in error
    gpus = ray.cluster_resources().get("GPU", 0)
    error = _refused_in_time(lambda: run_grid(spec, tmp_path / "g",
                                              executor=ExecutorSpec(name="ray", num_gpus=gpus + 1)))
    assert f"{gpus + 1:g} GPU" in error and "num_gpus" in error
    assert not list((tmp_path / "g").rglob("folds"))  # nothing ran
    grid = yaml.safe_load(grid_file(tmp_path).read_text())
    grid["executor"] = {"name": "ray", "num_cpus": 64}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    res = runner.invoke(app, ["grid", str(tmp_path / "grid.yaml"), "--out", str(tmp_path / "g2")])
    errors = [line for line in res.stderr.splitlines() if not line.startswith("grid 0 ")]  # off a terminal: a progress line
    assert res.exit_code == 2 and len(errors) == 1 and "64 CPU" in errors[0], res.output
    res = runner.invoke(app, [*loso_args(tmp_path), "--executor", "ray", "--engine", "sequential", "--fold-tasks", "2"])
    assert res.exit_code == 0, res.output  # feasible tasks still run (1 CPU each)
