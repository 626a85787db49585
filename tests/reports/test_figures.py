"""Report pictures: written atomically, decodable, sized as expected, and input-checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mesti.errors import MestiError
from mesti.reports.figures import _mean_curve, bar_chart_png, confusion_matrix_png, training_curves_png


def _decoded(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def _only(folder: Path, *names: str) -> None:
    """Nothing but the finished files: no temporary ``.name.*.tmp`` left behind."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@pytest.mark.parametrize("normalize", [True, False])
def test_confusion_matrix_png(tmp_path: Path, normalize: bool) -> None:
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 0]])  # last class absent from the truth
    out = confusion_matrix_png(cm, ["negative", "positive", "surprise"], tmp_path / "cm.png", normalize=normalize)
    assert out == tmp_path / "cm.png"
    pixels = _decoded(out)
    assert 500 <= pixels.shape[1] <= 900 and 400 <= pixels.shape[0] <= 800
    assert pixels.std() > 10  # something was drawn
    _only(tmp_path, "cm.png")


def test_confusion_matrix_grows_with_classes(tmp_path: Path) -> None:
    small = _decoded(confusion_matrix_png(np.eye(3, dtype=int), list("abc"), tmp_path / "a.png"))
    large = _decoded(confusion_matrix_png(np.eye(8, dtype=int), list("abcdefgh"), tmp_path / "b.png", title="eight"))
    assert large.shape[0] > small.shape[0] and large.shape[1] > small.shape[1]


def test_confusion_matrix_rejects_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="shape"):
        confusion_matrix_png(np.eye(3, dtype=int), ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(MestiError, match="integer"):
        confusion_matrix_png(np.eye(2) * 0.5, ["a", "b"], tmp_path / "cm.png")
    assert list(tmp_path.iterdir()) == []


def _history(epochs: int, offset: float, val: bool) -> dict[str, list[float]]:
    e = np.arange(1, epochs + 1)
    h = {"epoch": e.tolist(), "train_loss": (1.5 / e + offset).tolist(), "train_acc": (1 - 0.6 / e).tolist()}
    if val:
        h |= {"val_loss": (1.8 / e + offset).tolist(), "val_acc": (0.9 - 0.6 / e).tolist()}
    return h


@pytest.mark.parametrize("val", [True, False])
def test_training_curves_png(tmp_path: Path, val: bool) -> None:
    # folds of different lengths, as early stopping would leave them
    histories = {"sub01": _history(10, 0.0, val), "sub02": _history(7, 0.1, val), "sub03": _history(10, 0.2, val)}
    out = training_curves_png(histories, tmp_path / "curves" / "training.png")
    pixels = _decoded(out)
    assert (pixels.shape[1], pixels.shape[0]) == (1100, 420)
    assert pixels.std() > 10
    _only(out.parent, "training.png")


def test_mean_curve_averages_the_folds_that_reached_each_epoch() -> None:
    a = (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    b = (np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    epochs, means = _mean_curve([a, b])
    assert epochs.tolist() == [1.0, 2.0, 3.0]
    assert means.tolist() == [2.0, 3.0, 3.0]


def test_training_curves_reject_bad_histories(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="no fold"):
        training_curves_png({}, tmp_path / "t.png")
    with pytest.raises(MestiError, match="train_acc"):
        training_curves_png({"s1": {"epoch": [1], "train_loss": [1.0]}}, tmp_path / "t.png")
    bad = _history(5, 0.0, True)
    bad["val_acc"] = bad["val_acc"][:3]
    with pytest.raises(MestiError, match="val_acc has 3 values for 5 epochs"):
        training_curves_png({"s1": bad}, tmp_path / "t.png")
    assert list(tmp_path.iterdir()) == []


def _rows(datasets: list[str]) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {"dataset": d, "protocol": "LOSO", "modality": mod, "model": net,
         "uf1": float(rng.uniform(0.3, 0.9)), "uar": float(rng.uniform(0.3, 0.9)), "uf1_std": 0.05}
        for d in datasets for mod in ("apex", "dynamic_image", "mesti") for net in ("meganet", "resnet18")
    ]


def test_bar_chart_png_one_panel_row_per_dataset_and_protocol(tmp_path: Path) -> None:
    one = _decoded(bar_chart_png(_rows(["casme2"]), tmp_path / "one.png"))
    rows = _rows(["casme2", "samm"])
    del rows[-1]  # an unfinished cell: drawn without its bar, not as zero
    two = _decoded(bar_chart_png(rows, tmp_path / "two.png", title="grid"))
    assert two.shape[1] == one.shape[1]
    assert two.shape[0] == 2 * one.shape[0]
    assert 300 <= one.shape[0] <= 500 and 800 <= one.shape[1] <= 1600
    _only(tmp_path, "one.png", "two.png")


def test_bar_chart_rejects_rows_without_scores(tmp_path: Path) -> None:
    with pytest.raises(MestiError, match="uar"):
        bar_chart_png([{"modality": "apex", "model": "meganet", "uf1": 0.5}], tmp_path / "b.png")
    with pytest.raises(MestiError):
        bar_chart_png([], tmp_path / "b.png")
