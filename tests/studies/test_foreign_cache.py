"""Issue 22 D3: a folder of the user's given as the modality cache of loso, holdout or a grid is
refused naming that option (``--cache``, or the grid file's ``cache`` key), never ``--out``;
nothing is written into it or to the run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.synth import generate_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("d") / "data", subjects=3, clips_per_subject=2, size=32, seed=1, classes=3).path


def _foreign(tmp_path: Path) -> Path:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's own")
    return mine


def _refused_naming(res, option: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "not a mesti cache" in line and f"choose another {option}" in line, line
    assert "--out" not in line


@pytest.mark.parametrize("command", ["loso", "holdout"])
def test_a_foreign_cache_of_a_study_is_refused_naming_cache(tmp_path: Path, clips: Path, command: str) -> None:
    mine = _foreign(tmp_path)
    res = runner.invoke(app, [command, "-d", "casme2", "--root", str(clips), "--modality", "mesti", "--model", "ststnet",
                              "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run"), "--cache", str(mine)])
    _refused_naming(res, "--cache")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["dataset", "grid"])
def test_a_foreign_cache_of_a_grid_is_refused_before_any_cell(tmp_path: Path, clips: Path, where: str) -> None:
    mine = _foreign(tmp_path)
    entry: dict[str, object] = {"name": "casme2", "root": str(clips)}
    grid: dict[str, object] = {"modalities": ["mesti"], "models": ["ststnet"], "protocols": [{"name": "loso"}],
                               "training": {"epochs": 1, "device": "cpu"}}
    if where == "dataset":
        entry["cache"] = str(mine)
        key = "datasets[0].cache"
    else:  # the grid's cache holds one folder per dataset: a file of the user's in its place
        (mine / "casme2").write_text("not a folder")
        grid["cache"] = str(mine)
        key = "cache"
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({"datasets": [entry], **grid}))
    res = runner.invoke(app, ["grid", str(path), "--out", str(tmp_path / "g")])
    assert res.exit_code == 2, res.output
    line = res.stderr.strip().splitlines()[-1]  # after the progress line
    assert line.startswith("error:") and f"{key} (in the grid file)" in line and "--out" not in line, line
    assert not (tmp_path / "g").exists()  # refused before the grid folder or any cell
    assert sorted(p.name for p in mine.iterdir()) == sorted(["notes.txt"] + (["casme2"] if where == "grid" else []))
