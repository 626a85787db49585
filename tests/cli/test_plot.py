"""``mesti plot weights`` draws the paper's Fig. 2 and prints the worked example's weights."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from mesti.cli.main import app

runner = CliRunner()


def test_plot_weights_worked_example(tmp_path: Path) -> None:
    out = tmp_path / "weights.png"
    res = runner.invoke(app, ["plot", "weights", "--frames", "10", "--apex", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "-3 -1 1 3 5 3 1 -1 -3 -5" in res.output
    with Image.open(out) as im:
        assert im.size[0] > 300 and im.size[1] > 200


def test_plot_weights_bad_input(tmp_path: Path) -> None:
    res = runner.invoke(app, ["plot", "weights", "--frames", "10", "--apex", "11", "--out", str(tmp_path / "w.png")])
    assert res.exit_code == 2 and "--apex" in res.output and not (tmp_path / "w.png").exists()
    res = runner.invoke(app, ["plot", "weights", "--frames", "10", "--apex", "4", "--out", str(tmp_path / "w.jpg")])
    assert res.exit_code == 2 and ".png" in res.output


def test_synth_refuses_an_unknown_layout(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", str(tmp_path / "s"), "--layout", "mmew"])
    assert res.exit_code == 2 and "unknown layout 'mmew'" in res.output and not (tmp_path / "s").exists()
