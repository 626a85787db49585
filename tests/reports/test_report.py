"""Run reports and grid summaries: the numbers, the protocol beside them, and clean writes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mesti.errors import MestiError
from mesti.reports.figures import confusion_matrix_png, training_curves_png
from mesti.reports.metrics import compute_metrics, per_fold_metrics
from mesti.reports.report import describe_protocol, write_run_report, write_summary

NAMES = ["negative", "positive", "surprise", "others"]


def _run() -> tuple[dict, dict, dict]:
    rng = np.random.default_rng(3)
    n = 40
    y_true = rng.integers(0, 3, size=n)  # "others" never in the truth
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, 4, size=n))
    folds = [f"sub{i % 4:02d}" for i in range(n)]
    datasets = ["casme2"] * 25 + ["samm"] * 15
    config = {
        "protocol": "loso",
        "dataset": "megc2019",
        "modality": "mesti",
        "model": "meganet",
        "epochs": 50,
        "root": Path("/data/megc"),
        "img_size": np.int64(224),
        "command": ["mesti", "loso", "--dataset", "megc2019", "--root", "/data/my megc", "--out", "runs/a"],
    }
    metrics = compute_metrics(y_true, y_pred, NAMES, datasets=datasets)
    return config, metrics, per_fold_metrics(y_true, y_pred, folds, NAMES)


def _yaml_block(text: str) -> dict:
    match = re.search(r"```yaml\n(.*?)\n```", text, re.S)
    assert match, "no YAML block"
    return yaml.safe_load(match.group(1))


def test_run_report_states_protocol_numbers_and_config(tmp_path: Path) -> None:
    config, metrics, folds = _run()
    cm_path = confusion_matrix_png(metrics["confusion_matrix"], NAMES, tmp_path / "confusion.png")
    curves = training_curves_png({"sub00": {"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_acc": [0.4, 0.7]}},
                                 tmp_path / "curves" / "training.png")
    out = write_run_report(tmp_path, config, metrics, folds,
                           {"Confusion matrix": "confusion.png", "Training curves": curves})
    assert out == tmp_path / "report.md"
    text = out.read_text()
    protocol = "LOSO, 4 folds, pooled predictions (n=40, 4 classes)"
    assert describe_protocol(config, metrics, folds) == protocol
    assert text.startswith("# Run report: megc2019 / mesti / meganet\n")
    for label, key in (("accuracy", "accuracy"), ("UF1", "uf1"), ("UAR", "uar")):
        assert f"| {label} | {metrics[key]:.4f} | {protocol} |" in text
    assert f"## Per class: {protocol}" in text
    for name in ("negative", "positive", "surprise"):
        f1 = metrics["per_class"][name]["f1"]
        assert re.search(rf"\| {name} \|.*\| {f1:.4f} \| yes \|", text)
    assert re.search(r"\| others \| 0 \|.*\| - \| excluded \|", text)
    assert "## Excluded classes" in text and "**others**: never in the pooled ground truth" in text
    assert "3 of 4" in text
    for ds in ("casme2", "samm"):
        assert f"| {ds} | {metrics['per_dataset'][ds]['n']} | {metrics['per_dataset'][ds]['accuracy']:.4f} |" in text
    assert "NOT the pooled figures" in text
    assert f"| fold_mean_uf1 | {folds['fold_mean_uf1']:.4f} | {folds['fold_std_uf1']:.4f} |" in text
    assert "![Confusion matrix](confusion.png)" in text
    assert "![Training curves](curves/training.png)" in text  # absolute path made relative
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (tmp_path / link).is_file()
    resolved = _yaml_block(text)
    assert resolved["root"] == "/data/megc" and resolved["img_size"] == 224
    assert resolved["command"][1] == "loso" and resolved["epochs"] == 50
    assert "mesti loso --dataset megc2019 --root '/data/my megc' --out runs/a" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "curves", "report.md"]


def test_run_report_without_folds_pictures_or_command(tmp_path: Path) -> None:
    metrics = compute_metrics([0, 1, 1], [0, 1, 0], ["a", "b"])
    config = {"protocol": {"name": "holdout", "test_fraction": 0.1, "repeats": 5, "seed": 0}}
    text = write_run_report(tmp_path / "run", config, metrics, None, {}).read_text()
    assert "**Protocol:** hold-out 90/10, 5 repeats, pooled predictions (n=3, 2 classes)" in text
    assert text.startswith("# Run report\n")
    for absent in ("Per-fold", "Excluded classes", "Per dataset", "## Pictures"):
        assert absent not in text
    assert "The config records no command." in text
    assert _yaml_block(text) == config


@pytest.mark.parametrize(
    ("protocol", "extra", "expected"),
    [
        ("cross-dataset", {"train_dataset": "casme2", "test_dataset": {"name": "samm"}},
         "cross-dataset (train casme2, test samm), pooled predictions"),
        ("holdout", {"test_fraction": 0.2}, "hold-out 80/20, pooled predictions"),
        ("my_protocol", {"n_folds": 3}, "my_protocol, 3 folds, pooled predictions"),
        ({"name": "loso", "description": "leave-one-subject-out (LOSO), predictions pooled over folds",
          "n_folds": 26}, {}, "leave-one-subject-out (LOSO), predictions pooled over folds, 26 folds (n=2, 2 classes)"),
        ({"name": "holdout", "description": "hold-out 90/10, SUBJECTS APPEAR IN BOTH TRAIN AND TEST", "n_folds": 5},
         {}, "hold-out 90/10, SUBJECTS APPEAR IN BOTH TRAIN AND TEST, pooled predictions (n=2, 2 classes)"),
    ],
)
def test_describe_protocol_variants(protocol: str | dict, extra: dict, expected: str) -> None:
    metrics = compute_metrics([0, 1], [0, 1], ["a", "b"])
    assert describe_protocol({"protocol": protocol, **extra}, metrics).startswith(expected)


def test_run_report_requires_a_protocol(tmp_path: Path) -> None:
    metrics = compute_metrics([0, 1], [0, 1], ["a", "b"])
    with pytest.raises(MestiError, match="protocol"):
        write_run_report(tmp_path, {"model": "meganet"}, metrics, None, {})
    assert list(tmp_path.iterdir()) == []


def _summary_rows() -> list[dict]:
    rows = []
    for ds, scores in (("casme2", (0.913, 0.929)), ("samm", (0.890, 0.914))):
        for mod in ("apex", "mesti"):
            for net in ("meganet", "vgg19"):
                rows.append({"dataset": ds, "protocol": "LOSO 3-class", "modality": mod, "model": net,
                             "accuracy": 0.93, "uf1": scores[0] if (mod, net) == ("mesti", "meganet") else 0.5,
                             "uar": scores[1] if (mod, net) == ("mesti", "meganet") else 0.6, "n": 145,
                             "run_dir": f"{ds}/{mod}/{net}"})
    rows[0]["uf1_std"] = 0.031  # a spread column present for some rows only
    return rows


def test_summary_markdown_csv_and_pivots(tmp_path: Path) -> None:
    rows = _summary_rows()
    md, csv = write_summary(rows, tmp_path / "grid", pictures={"UF1 and UAR": tmp_path / "grid" / "bars.png"})
    assert (md, csv) == (tmp_path / "grid" / "summary.md", tmp_path / "grid" / "summary.csv")
    frame = pd.read_csv(csv)
    assert list(frame.columns) == ["dataset", "protocol", "modality", "model", "accuracy", "uf1", "uar", "n",
                                   "uf1_std", "run_dir"]
    assert len(frame) == len(rows)
    for col in ("dataset", "protocol", "modality", "model", "run_dir"):
        assert frame[col].tolist() == [r[col] for r in rows]
    for col in ("accuracy", "uf1", "uar", "n"):
        assert np.allclose(frame[col], [r[col] for r in rows])
    assert frame["uf1_std"].iloc[0] == pytest.approx(0.031) and frame["uf1_std"].iloc[1:].isna().all()

    text = md.read_text()
    assert "| casme2 | LOSO 3-class | mesti | meganet | 0.9300 | 0.9130 | 0.9290 | 145 | - | casme2/mesti/meganet |" in text
    assert "| casme2 | LOSO 3-class | apex | meganet | 0.9300 | 0.5000 | 0.6000 | 145 | 0.0310 |" in text
    assert "## casme2, LOSO 3-class: UF1 / UAR" in text and "## samm, LOSO 3-class: UF1 / UAR" in text
    assert "| modality \\ model | meganet | vgg19 |" in text
    assert "| mesti | 0.913 / 0.929 | 0.500 / 0.600 |" in text
    assert "| mesti | 0.890 / 0.914 | 0.500 / 0.600 |" in text
    assert "![UF1 and UAR](bars.png)" in text
    assert sorted(p.name for p in (tmp_path / "grid").iterdir()) == ["summary.csv", "summary.md"]


def test_summary_pivot_marks_missing_cells(tmp_path: Path) -> None:
    rows = [r for r in _summary_rows() if r["dataset"] == "samm"][:-1]  # mesti x vgg19 unfinished
    md, _ = write_summary(rows, tmp_path)
    assert "| mesti | 0.890 / 0.914 | - |" in md.read_text()


def test_summary_rejects_bad_rows(tmp_path: Path) -> None:
    rows = _summary_rows()
    with pytest.raises(MestiError, match="two rows"):
        write_summary([*rows, dict(rows[0])], tmp_path / "a")
    with pytest.raises(MestiError, match="protocol"):
        write_summary([{"dataset": "x", "modality": "apex", "model": "m"}], tmp_path / "b")
    with pytest.raises(MestiError, match="no rows"):
        write_summary([], tmp_path / "c")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the CSV
