"""Issue 16 item 1: ``--overwrite`` only ever removes a folder that is a mesti output of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mesti.errors import MestiError
from mesti.protocols import SubjectKFold
from mesti.engine.config import TrainConfig
from mesti.studies.run import Experiment, run_experiment
from mesti.engine.samples import SampleSet
from mesti.utils.outputs import output_kind, prepare_output_dir


def tiny_samples() -> SampleSet:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 16, 16, generator=g) * 255
    return SampleSet.from_arrays(images, [0, 1] * 4, [f"s{i // 2}" for i in range(8)], ["d"] * 8,
                                 [f"c{i}" for i in range(8)], ["a", "b"])


def run(out: Path, overwrite: bool = False) -> dict:  # type: ignore[type-arg]
    cfg = TrainConfig(epochs=1, device="cpu", batch_size=4)
    return run_experiment(tiny_samples(), Experiment("ststnet", SubjectKFold(k=2, seed=0), cfg), out, overwrite=overwrite)


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    out = tmp_path / "k"
    (out / "p").mkdir(parents=True)
    (out / "t.tex").write_text("x")
    with pytest.raises(MestiError, match="not a mesti output"):
        run(out, overwrite=True)
    assert (out / "t.tex").read_text() == "x" and (out / "p").is_dir()  # nothing removed
    with pytest.raises(MestiError, match="not a mesti output"):
        run(out)  # nor written into
    assert sorted(p.name for p in out.iterdir()) == ["p", "t.tex"]


def test_overwrite_replaces_a_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(out)
    assert output_kind(out) == "run"
    (out / "stale.txt").write_text("old")
    run(out, overwrite=True)
    assert not (out / "stale.txt").exists() and (out / "metrics.json").is_file()


@pytest.mark.parametrize("kind", ["cache", "synthetic dataset", "grid"])
def test_a_run_of_another_kind_is_refused(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "run"
    run(out)
    with pytest.raises(MestiError, match=f"holds a mesti run, not a mesti {kind}"):
        prepare_output_dir(out, kind, overwrite=True)  # type: ignore[arg-type]
    assert (out / "metrics.json").is_file()


def test_files_and_file_parents_are_one_line_errors(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(MestiError, match="not a folder"):
        prepare_output_dir(f, "run")
    with pytest.raises(MestiError, match="is a file"):
        prepare_output_dir(f / "sub", "run")
    assert prepare_output_dir(tmp_path / "new", "cache") == tmp_path / "new"


def test_marks_of_each_kind(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "synth.json").write_text("{}")
    (tmp_path / "c" / "mesti").mkdir(parents=True)
    (tmp_path / "c" / "mesti" / "index.json").write_text("{}")
    (tmp_path / "r" / "folds").mkdir(parents=True)
    (tmp_path / "r" / "config.yaml").write_text("model: x\n")  # no mesti_version: not a run
    assert output_kind(tmp_path / "s") == "synthetic dataset"
    assert output_kind(tmp_path / "c") == "cache"
    assert output_kind(tmp_path / "r") is None


def test_prepare_grid_and_synth_refuse_a_foreign_folder(tmp_path: Path) -> None:
    from mesti.cache import prepare
    from mesti.datasets.registry import create_dataset
    from mesti.synth import generate_dataset
    from mesti.studies.grid import GridSpec, run_grid
    from tests.conftest import moving_clip, write_frames

    foreign = tmp_path / "k"
    foreign.mkdir()
    (foreign / "t.tex").write_text("x")
    write_frames(tmp_path / "data" / "c", moving_clip(length=4, size=16))
    (tmp_path / "data" / "manifest.csv").write_text("path,subject,label\nc,s1,a\n")
    with pytest.raises(MestiError, match="not a mesti output, not a mesti cache"):
        prepare(create_dataset("folder", tmp_path / "data"), ["apex"], foreign, workers=1)
    spec = GridSpec(datasets=[{"name": "folder", "root": str(tmp_path / "data")}], modalities=["apex"],
                    models=["ststnet"], protocols=[{"name": "loso"}])
    with pytest.raises(MestiError, match="not a mesti grid"):
        run_grid(spec, foreign)
    with pytest.raises(MestiError, match="refusing to overwrite"):
        generate_dataset(foreign, subjects=1, clips_per_subject=1, size=32, overwrite=True)
    assert sorted(p.name for p in foreign.iterdir()) == ["t.tex"]
