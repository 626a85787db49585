"""Issue 16 item 11: messages that say what is wrong, on one line; --manifest wherever a manifest is read."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.models.weights import read_state_dict
from mesti.studies.inputs import load_samples
from tests.studies.study_tree import study_of
from tests.conftest import moving_clip, write_frames

runner = CliRunner()


def test_an_empty_manifest_says_it_has_no_rows(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("path,subject,label\n")
    with pytest.raises(MestiError, match="manifest.csv: the manifest has no rows"):
        load_samples(study_of("folder", tmp_path, modality="mesti", cache=tmp_path / "cache"))


def test_a_yaml_error_is_one_line_with_its_position(tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("datasets:\n  - name: x\n    root: [a\nmodels: [a]\n")
    res = runner.invoke(app, ["grid", str(grid), "--out", str(tmp_path / "g")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "not valid YAML at line 4, column 7" in res.output


def test_weight_files_torch_cannot_read_are_one_line(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    (tmp_path / "junk.pt").write_bytes(b"hello world not a pickle")
    with pytest.raises(MestiError, match="not a readable PyTorch state dict"):
        read_state_dict(tmp_path / "junk.pt")
    (tmp_path / "p4.pt").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(MestiError, match="refused"):
        read_state_dict(tmp_path / "p4.pt")
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]  # torch's note stays out of the output


@pytest.fixture()
def manifest_root(tmp_path: Path) -> Path:
    for i in range(2):
        write_frames(tmp_path / "clips" / f"c{i}", moving_clip(length=4, size=16))
    (tmp_path / "list.csv").write_text("path,subject,label\nclips/c0,s1,a\nclips/c1,s2,b\n")
    return tmp_path


def test_manifest_is_accepted_wherever_a_manifest_is_read(manifest_root: Path) -> None:
    m = str(manifest_root / "list.csv")
    res = runner.invoke(app, ["data", "check", "--dataset", "folder", "--root", str(manifest_root), "--manifest", m])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["prepare", "--dataset", "folder", "--root", str(manifest_root), "--manifest", m,
                              "-m", "apex", "--face", "none", "--size", "16", "-j", "1", "--out", str(manifest_root / "cache")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "check", "--dataset", "folder", "--root", str(manifest_root), "--manifest", m, "--sheet", m])
    assert res.exit_code == 2 and "not both" in res.output
    with pytest.raises(MestiError, match="give it with --manifest"):
        create_dataset("folder", manifest_root)  # no manifest.csv in the root
