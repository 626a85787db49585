"""Pooled accuracy / UF1 / UAR against hand-computed confusions and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

from mesti.errors import MestiError
from mesti.reports.metrics import compute_metrics, per_fold_metrics

THREE = ["negative", "positive", "surprise"]


def _from_confusion(cm: list[list[int]]) -> tuple[list[int], list[int]]:
    """Samples (truth, prediction) that realise a confusion matrix, rows truth."""
    t, p = [], []
    for i, row in enumerate(cm):
        for j, count in enumerate(row):
            t += [i] * count
            p += [j] * count
    return t, p


def test_hand_computed_three_classes() -> None:
    # truth negative (4): 3 right, 1 called positive
    # truth positive (3): 2 right, 1 called surprise
    # truth surprise (3): 2 called negative, 1 right
    cm = [[3, 1, 0],
          [0, 2, 1],
          [2, 0, 1]]
    m = compute_metrics(*_from_confusion(cm), THREE)
    assert m["confusion_matrix"] == cm
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(6 / 10)
    neg, pos, sur = (m["per_class"][c] for c in THREE)
    # negative: TP 3, FP 2 (column 0 minus TP), FN 1 -> F1 6/9, recall 3/4, precision 3/5
    assert (neg["tp"], neg["fp"], neg["fn"], neg["support"]) == (3, 2, 1, 4)
    assert neg["f1"] == pytest.approx(6 / 9)
    assert neg["recall"] == pytest.approx(3 / 4)
    assert neg["precision"] == pytest.approx(3 / 5)
    # positive: TP 2, FP 1, FN 1 -> F1 4/6, recall 2/3
    assert (pos["tp"], pos["fp"], pos["fn"]) == (2, 1, 1)
    assert pos["f1"] == pytest.approx(4 / 6)
    assert pos["recall"] == pytest.approx(2 / 3)
    # surprise: TP 1, FP 1 (the positive sample), FN 2 -> F1 2/5, recall 1/3, precision 1/2
    assert (sur["tp"], sur["fp"], sur["fn"]) == (1, 1, 2)
    assert sur["f1"] == pytest.approx(2 / 5)
    assert sur["recall"] == pytest.approx(1 / 3)
    assert sur["precision"] == pytest.approx(1 / 2)
    assert m["uf1"] == pytest.approx((6 / 9 + 4 / 6 + 2 / 5) / 3)  # 26/45
    assert m["uar"] == pytest.approx((3 / 4 + 2 / 3 + 1 / 3) / 3)  # 7/12
    assert m["excluded_classes"] == [] and m["excluded_note"] is None
    assert m["n_classes_averaged"] == 3
    assert m["aggregation"] == "pooled"
    assert "per_dataset" not in m


def test_class_absent_from_truth_is_excluded_and_reported() -> None:
    names = ["happiness", "disgust", "others"]
    # truth happiness (2): 1 right, 1 called "others" (a class no sample has)
    # truth disgust (3): 2 right, 1 called happiness
    cm = [[1, 0, 1],
          [1, 2, 0],
          [0, 0, 0]]
    y_true, y_pred = _from_confusion(cm)
    m = compute_metrics(y_true, y_pred, names)
    assert m["confusion_matrix"] == cm
    assert m["excluded_classes"] == ["others"]
    assert "UF1" in m["excluded_note"]
    others = m["per_class"]["others"]
    assert others["in_truth"] is False
    assert (others["support"], others["fp"], others["predicted"]) == (0, 1, 1)
    assert others["f1"] is None and others["recall"] is None
    # the "others" prediction is a false negative of happiness: F1 2/(2+1+1), recall 1/2
    hap = m["per_class"]["happiness"]
    assert (hap["tp"], hap["fp"], hap["fn"]) == (1, 1, 1)
    assert hap["f1"] == pytest.approx(0.5)
    # disgust: TP 2, FP 0, FN 1 -> F1 4/5, recall 2/3
    assert m["per_class"]["disgust"]["f1"] == pytest.approx(0.8)
    assert m["n_classes_averaged"] == 2
    assert m["uf1"] == pytest.approx((0.5 + 0.8) / 2)
    assert m["uar"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["uf1"] != pytest.approx((0.5 + 0.8 + 0.0) / 3)  # not averaged as a zero
    assert m["uf1"] == pytest.approx(f1_score(y_true, y_pred, labels=[0, 1], average="macro"))
    assert m["uar"] == pytest.approx(recall_score(y_true, y_pred, labels=[0, 1], average="macro"))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("drop_class", [None, 3])
def test_agrees_with_sklearn_on_random_data(seed: int, drop_class: int | None) -> None:
    rng = np.random.default_rng(seed)
    k = 5
    names = [f"c{i}" for i in range(k)]
    y_true = rng.integers(0, k, size=300)
    if drop_class is not None:
        y_true[y_true == drop_class] = (drop_class + 1) % k
    # a noisy classifier that is right about half the time
    y_pred = np.where(rng.random(300) < 0.5, y_true, rng.integers(0, k, size=300))
    m = compute_metrics(y_true, y_pred, names)
    labels = list(range(k))
    present = sorted(set(y_true.tolist()))
    assert m["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    f1 = f1_score(y_true, y_pred, labels=present, average=None)
    recall = recall_score(y_true, y_pred, labels=present, average=None)
    for c, f, r in zip(present, f1, recall, strict=True):
        assert m["per_class"][names[c]]["f1"] == pytest.approx(f)
        assert m["per_class"][names[c]]["recall"] == pytest.approx(r)
    assert m["uf1"] == pytest.approx(f1.mean())
    assert m["uar"] == pytest.approx(recall.mean())
    assert m["excluded_classes"] == ([] if drop_class is None else [names[drop_class]])


def test_perfect_and_all_wrong_predictions() -> None:
    y = np.array([0, 0, 1, 2, 2, 2, 1])
    perfect = compute_metrics(y, y, THREE)
    assert perfect["accuracy"] == perfect["uf1"] == perfect["uar"] == 1.0
    assert np.array_equal(np.diag(perfect["confusion_matrix"]), [2, 2, 3])
    wrong = compute_metrics(y, (y + 1) % 3, THREE)
    assert wrong["accuracy"] == wrong["uf1"] == wrong["uar"] == 0.0
    assert all(wrong["per_class"][c]["f1"] == 0.0 for c in THREE)
    assert np.trace(wrong["confusion_matrix"]) == 0


def test_result_is_plain_json() -> None:
    m = compute_metrics(np.array([0, 1, 1], dtype=np.int32), [1, 1, 0], THREE, datasets=["a", "a", "b"])
    assert json.loads(json.dumps(m, allow_nan=False)) == m


def test_per_dataset_breakdown_matches_each_subset() -> None:
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 3, size=60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 3, size=60))
    datasets = np.array(["casme2"] * 25 + ["samm"] * 20 + ["smic"] * 15)
    y_true[datasets == "smic"] = np.where(y_true[datasets == "smic"] == 2, 0, y_true[datasets == "smic"])
    m = compute_metrics(y_true, y_pred, THREE, datasets=list(datasets))
    assert list(m["per_dataset"]) == ["casme2", "samm", "smic"]
    for name, sub in m["per_dataset"].items():
        mask = datasets == name
        alone = compute_metrics(y_true[mask], y_pred[mask], THREE)
        assert sub == alone
        assert "per_dataset" not in sub
    assert m["per_dataset"]["smic"]["excluded_classes"] == ["surprise"]
    assert sum(s["n"] for s in m["per_dataset"].values()) == m["n"] == 60
    total = np.sum([s["confusion_matrix"] for s in m["per_dataset"].values()], axis=0)
    assert total.tolist() == m["confusion_matrix"]
    # the composite's UF1 is computed on the pooled samples, not averaged over datasets
    assert m["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_per_fold_means_differ_from_pooled_and_keep_their_names() -> None:
    # fold s1: one sample, right. fold s2: truth [0, 1, 1, 1], everything called class 1.
    y_true = [0, 0, 1, 1, 1]
    y_pred = [0, 1, 1, 1, 1]
    folds = ["s1", "s2", "s2", "s2", "s2"]
    names = ["a", "b"]
    per_fold = per_fold_metrics(y_true, y_pred, folds, names)
    pooled = compute_metrics(y_true, y_pred, names)
    assert per_fold["n_folds"] == 2 and per_fold["aggregation"] == "per_fold"
    s1, s2 = per_fold["folds"]["s1"], per_fold["folds"]["s2"]
    assert (s1["accuracy"], s1["uf1"], s1["uar"]) == (1.0, 1.0, 1.0)
    assert s1["classes_in_truth"] == ["a"]
    # s2: a has TP 0 -> F1 0, recall 0; b has TP 3, FP 1, FN 0 -> F1 6/7, recall 1
    assert s2["accuracy"] == pytest.approx(3 / 4)
    assert s2["uf1"] == pytest.approx(3 / 7)
    assert s2["uar"] == pytest.approx(1 / 2)
    assert per_fold["fold_mean_accuracy"] == pytest.approx(0.875)
    assert per_fold["fold_mean_uf1"] == pytest.approx(5 / 7)
    assert per_fold["fold_mean_uar"] == pytest.approx(0.75)
    assert per_fold["fold_std_accuracy"] == pytest.approx(np.std([1.0, 0.75], ddof=1))
    # pooled: a TP 1 FN 1 -> F1 2/3; b F1 6/7
    assert pooled["accuracy"] == pytest.approx(0.8)
    assert pooled["uf1"] == pytest.approx((2 / 3 + 6 / 7) / 2)
    assert per_fold["fold_mean_uf1"] != pytest.approx(pooled["uf1"])
    assert per_fold["fold_mean_accuracy"] != pytest.approx(pooled["accuracy"])
    assert not {"accuracy", "uf1", "uar"} & set(per_fold)


def test_single_fold_has_no_spread() -> None:
    r = per_fold_metrics([0, 1], [0, 0], [3, 3], ["a", "b"])
    assert list(r["folds"]) == ["3"]
    assert r["fold_std_uf1"] is None
    assert json.loads(json.dumps(r, allow_nan=False)) == r


@pytest.mark.parametrize(
    ("y_true", "y_pred", "where"),
    [
        ([0, 3], [0, 1], "y_true"),
        ([0, 1], [0, -1], "y_pred"),
        ([0.0, 1.0], [0, 1], "y_true"),
        ([True, False], [0, 1], "y_true"),
        ([0, 1, 2], [0, 1], "y_pred"),
        ([], [], "y_true"),
        ([[0, 1]], [[0, 1]], "y_true"),
    ],
)
def test_bad_labels_are_rejected(y_true: list, y_pred: list, where: str) -> None:
    with pytest.raises(MestiError) as err:
        compute_metrics(y_true, y_pred, THREE)
    assert err.value.where == where


def test_bad_side_inputs_are_rejected() -> None:
    with pytest.raises(MestiError, match="duplicate"):
        compute_metrics([0], [0], ["a", "a"])
    with pytest.raises(MestiError) as err:
        compute_metrics([0, 1], [0, 1], THREE, datasets=["a"])
    assert err.value.where == "datasets"
    with pytest.raises(MestiError) as err:
        per_fold_metrics([0, 1], [0, 1], ["s1"], THREE)
    assert err.value.where == "folds"
