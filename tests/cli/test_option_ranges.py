"""Issue 16 item 8: numeric options outside their range are refused, with the range, in the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.cli.main import app
from mesti.clips import load_clip
from mesti.errors import MestiError
from mesti.modalities import encode
from mesti.preprocessing import PreprocessConfig
from mesti.protocols import HoldOut, SubjectKFold
from mesti.engine.config import TrainConfig
from tests.conftest import moving_clip

runner = CliRunner()


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf")])
@pytest.mark.parametrize(("modality", "option"), [("mesti", "symmetric_range"), ("dynamic_image", "symmetric_range"),
                                                  ("flow_onset_apex", "flow_range")])
def test_symmetric_ranges_must_be_positive(modality: str, option: str, value: float) -> None:
    clip = load_clip(moving_clip(length=6, size=16))
    with pytest.raises(MestiError, match=f"{modality}: {option} must be (> 0|finite)"):
        encode(clip, modality, scale="symmetric", **{option: value})


@pytest.mark.parametrize("value", ["0", "-1"])
def test_cli_symmetric_range_writes_nothing(clip_folder: Path, tmp_path: Path, value: str) -> None:
    out = tmp_path / "m.png"
    res = runner.invoke(app, ["encode", str(clip_folder), "-m", "mesti", "--scale", "symmetric",
                              "--symmetric-range", value, "--out", str(out)])
    assert res.exit_code == 2 and "symmetric_range must be > 0" in res.output and not out.exists()


@pytest.mark.parametrize(("make", "match"), [
    (lambda: TrainConfig(epochs=0), "epochs: 0 must be at least 1"),
    (lambda: TrainConfig(lr=float("nan")), "lr"),
    (lambda: TrainConfig(weight_decay=-1), "weight_decay"),
    (lambda: TrainConfig(patience=0), "patience"),
    (lambda: TrainConfig(val_fraction=1.0), r"must lie in \[0, 1\)"),
    (lambda: SubjectKFold(k=1), "--folds: k = 1 must be at least 2"),
    (lambda: HoldOut(test_fraction=1.5), "strictly between 0 and 1"),
    (lambda: HoldOut(repeats=0), "--repeats"),
    (lambda: PreprocessConfig(size=100000), r"8\.\.4096"),
    (lambda: PreprocessConfig(margin=-0.1), r"0\.\.2"),
])
def test_api_objects_refuse_values_out_of_range(make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MestiError, match=match):
        make()


def test_cli_options_are_refused_before_any_work(tmp_path: Path) -> None:
    base = ["loso", "--dataset", "casme2", "--root", str(tmp_path), "--modality", "mesti", "--out", str(tmp_path / "r")]
    for extra, word in ((["--folds", "1"], "--folds"), (["--epochs", "0"], "epochs"), (["--val-fraction", "2"], "val_fraction"),
                        (["--lr", "-1"], "lr")):
        res = runner.invoke(app, [*base, *extra])
        assert res.exit_code == 2 and word in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "r").exists()
