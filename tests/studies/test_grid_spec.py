"""Issue 22: grid labels are plain names (D6), options in YAML have their types (D18), ``--address``
needs ``--executor ray`` (D31), and a run folder has one writer at a time (D10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.errors import MestiError
from mesti.studies.grid import GridSpec, run_grid
from tests.studies.image_tree import image_folder

runner = CliRunner()
SRC = str(Path(__file__).resolve().parents[2] / "src")


def grid_yaml(tmp_path: Path, datasets: list[dict[str, object]] | None = None, **over: object) -> Path:
    root = tmp_path / "images"
    manifest = root / "manifest.csv" if root.exists() else image_folder(root)
    entry = {"name": "images", "root": str(root), "manifest": str(manifest)}
    grid = {"datasets": [{**entry, **d} for d in (datasets or [{}])], "modalities": ["images"], "models": ["ststnet"],
            "protocols": [{"name": "kfold", "k": 2}], "training": {"epochs": 1, "device": "cpu"}, **over}
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def _one_line(res, *parts: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.mark.parametrize("label", ["../../escaped", "/tmp/absolute-label", "a/b", "..", ".hidden", "", "x" * 101])
def test_a_dataset_label_is_a_plain_name_not_a_path(tmp_path: Path, label: str) -> None:
    """D6: ``label: ../../x`` wrote the cell's run outside --out; an absolute one wrote there, then crashed."""
    work = tmp_path / "work"
    work.mkdir()
    path = grid_yaml(work, datasets=[{"label": label}])
    _one_line(runner.invoke(app, ["grid", str(path), "--out", str(work / "g")]), "g.yaml", "plain name")
    assert sorted(p.name for p in work.iterdir()) == ["g.yaml", "images"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    spec = GridSpec(datasets=[{"name": "images", "root": str(work / "images"), "label": label}], modalities=["images"],
                    models=["ststnet"], protocols=[{"name": "loso"}])
    with pytest.raises(MestiError, match="plain name"):  # the API too, before anything is written
        run_grid(spec, work / "g2")
    assert not (work / "g2").exists()


def test_a_plain_label_names_the_folder(tmp_path: Path) -> None:
    spec = GridSpec.from_yaml(grid_yaml(tmp_path, datasets=[{"label": "images_v2.1-b"}]))
    (run_dir,) = [d for _, _, d in spec.studies(tmp_path / "g")]
    assert run_dir.relative_to(tmp_path / "g").parts[0] == "images_v2.1-b"


@pytest.mark.parametrize("over, key", [
    ({"report_oracle": "false"}, "report_oracle"),
    ({"report_oracle": "no"}, "report_oracle"),
    ({"report_oracle": 0}, "report_oracle"),
    ({"training": {"epochs": 1, "device": "cpu", "flip": "false"}}, "flip"),
    ({"training": {"epochs": 1, "device": "cpu", "amp": "off"}}, "amp"),
    ({"training": {"epochs": 1.5, "device": "cpu"}}, "epochs"),
    ({"training": {"epochs": 1, "device": "cpu", "lr": "1e-3"}}, "lr"),
    ({"seeds": "0,1"}, "seeds"),
    ({"size": "64"}, "size"),
    ({"img_size": True}, "img_size"),
    ({"executor": {"name": "local", "max_retries": "3"}}, "max_retries"),
    ({"datasets": [{"classes": "3"}]}, "classes"),
])
def test_options_in_yaml_must_have_their_types(tmp_path: Path, over: dict[str, object], key: str) -> None:
    """D18: ``report_oracle: "false"`` (a string) was read as true."""
    datasets = over.pop("datasets", None)
    path = grid_yaml(tmp_path, datasets=datasets, **over)  # type: ignore[arg-type]
    _one_line(runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "g")]), key)
    assert not (tmp_path / "g").exists()


def test_a_quoted_false_no_longer_switches_the_oracle_on_and_real_booleans_work(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="true or false"):
        GridSpec.from_yaml(grid_yaml(tmp_path, report_oracle="false"))
    assert GridSpec.from_yaml(grid_yaml(tmp_path, report_oracle=False)).report_oracle is False
    spec = GridSpec.from_yaml(grid_yaml(tmp_path, report_oracle=True, training={"epochs": 1, "device": "cpu",
                                                                                 "lr": 0.001, "flip": False}))
    (_, study, _), = spec.studies(tmp_path / "g")
    cfg = study.train_config(0)
    assert cfg.report_oracle is True and cfg.flip is False and cfg.lr == 0.001


def test_address_without_the_ray_executor_is_refused(tmp_path: Path) -> None:
    """D31: ``--address`` without ``--executor ray`` was ignored silently (the run went local)."""
    manifest = image_folder(tmp_path / "images")
    loso = ["loso", "--dataset", "folder", "--root", str(tmp_path / "images"), "--manifest", str(manifest),
            "--model", "ststnet", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")]
    _one_line(runner.invoke(app, [*loso, "--address", "10.0.0.1:6379"]), "--address", "--executor ray")
    _one_line(runner.invoke(app, ["grid", str(grid_yaml(tmp_path)), "--out", str(tmp_path / "g"),
                                  "--address", "auto"]), "--address")
    _one_line(runner.invoke(app, ["grid", str(grid_yaml(tmp_path, executor={"name": "local", "address": "auto"})),
                                  "--out", str(tmp_path / "g")]), "--address")
    assert not (tmp_path / "run").exists() and not (tmp_path / "g").exists()


_RUNNING = """
import sys
from mesti.utils.outputs import prepare_output_dir
prepare_output_dir(sys.argv[1], "run")  # as a running `mesti loso` holds its --out
print("running", flush=True)
sys.stdin.read()
"""


def test_a_second_loso_into_a_running_run_is_refused(tmp_path: Path) -> None:
    """D10: a concurrent ``loso --overwrite`` into a running run mixed the two runs' folds."""
    manifest = image_folder(tmp_path / "images")
    loso = ["loso", "--dataset", "folder", "--root", str(tmp_path / "images"), "--manifest", str(manifest),
            "--model", "ststnet", "--epochs", "1", "--device", "cpu", "--folds", "2", "--out", str(tmp_path / "run")]
    assert runner.invoke(app, loso).exit_code == 0
    metrics = (tmp_path / "run" / "metrics.json").read_text()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-c", _RUNNING, str(tmp_path / "run")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "running"
        _one_line(runner.invoke(app, [*loso, "--overwrite", "--epochs", "2"]), "another mesti process", str(proc.pid))
        _one_line(runner.invoke(app, ["grid", str(grid_yaml(tmp_path)), "--out", str(tmp_path / "run")]),
                  "another mesti process")
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / "run" / "metrics.json").read_text() == metrics  # untouched
    res = runner.invoke(app, [*loso, "--overwrite", "--epochs", "2"])  # the first writer is gone: allowed
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["training"]["epochs"] == 2


@pytest.mark.parametrize("executor", [{"name": "ray", "num_cpus": float("nan")}, {"name": "ray", "num_cpus": float("inf")},
                                      {"name": "ray", "num_gpus": float("nan")}])
def test_executor_resources_must_be_finite(tmp_path: Path, executor: dict[str, object]) -> None:
    with pytest.raises(MestiError, match="positive number"):
        GridSpec.from_yaml(grid_yaml(tmp_path, executor=executor))


def test_specs_built_in_python_are_checked_too(tmp_path: Path) -> None:
    from mesti.engine.config import TrainConfig
    from mesti.studies.executors import ExecutorSpec

    entry = {"name": "images", "root": str(tmp_path)}
    with pytest.raises(MestiError, match="report_oracle"):
        GridSpec(datasets=[entry], modalities=["images"], models=["ststnet"], protocols=[{"name": "loso"}],
                 report_oracle="false")  # type: ignore[arg-type]
    with pytest.raises(MestiError, match="flip"):
        TrainConfig(flip="false")  # type: ignore[arg-type]
    with pytest.raises(MestiError, match="num_cpus"):
        ExecutorSpec(name="ray", num_cpus="2")  # type: ignore[arg-type]


def test_protocol_options_have_their_types(tmp_path: Path) -> None:
    path = grid_yaml(tmp_path, protocols=[{"name": "kfold", "k": "2"}])
    _one_line(runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "g")]), "k: '2' must be a whole number")
