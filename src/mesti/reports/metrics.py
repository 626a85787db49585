"""Accuracy, UF1 and UAR the way the MER literature defines them (docs/protocols.md, Metrics).

The headline numbers are computed once, on the predictions of every fold pooled together:
per class c, ``F1_c = 2TP / (2TP + FP + FN)`` and ``recall_c = TP / N_c``; UF1 is the mean
of ``F1_c`` and UAR the mean of ``recall_c``. Averaging per-fold scores gives a different
(usually higher and noisier) number, so :func:`per_fold_metrics` returns it only under names
that say so (``fold_mean_uf1`` ...), never as ``uf1``.

Classes that never occur in the pooled ground truth have no recall and no meaningful F1:
they are left out of UF1 and UAR and listed under ``excluded_classes``. A prediction of such
a class is still an error: it is a false negative of the sample's true class, so it lowers
that class's recall and F1 (and so UF1 and UAR). It is also a false positive of the excluded
class, which is reported but enters no average. Precision of a present class counts only the
samples predicted as that class, so it is unaffected. This is what scikit-learn gives with
``labels=<present classes>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mesti.errors import MestiError, from_os_error

ArrayLike = Sequence[int] | np.ndarray

EXCLUDED_NOTE = (
    "never in the pooled ground truth, so left out of UF1 and UAR; a prediction of such a class "
    "still counts as a false negative of the sample's true class"
)

#: The key and the label the leaky "oracle" figure (best epoch chosen on the test subject, see
#: :mod:`mesti.studies.oracle`) carries wherever a report shows it.
ORACLE_KEY = "oracle_leaky"
ORACLE_LABEL = "oracle: best epoch chosen on the test subject, as some published code does (leaky, not an estimate)"


def _indices(values: ArrayLike, name: str, n_classes: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise MestiError(name, f"expected a 1-D sequence of class indices, got shape {arr.shape}")
    if arr.size == 0:
        raise MestiError(name, "no samples: metrics need at least one prediction")
    if arr.dtype.kind not in "iu":  # bools and floats are not class indices
        raise MestiError(name, f"expected integer class indices, got dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= n_classes)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise MestiError(
            name, f"sample {first} has class index {int(arr[first])}, outside 0..{n_classes - 1} ({n_classes} classes)"
        )
    return arr.astype(np.int64)


def _class_names(class_names: Sequence[str]) -> list[str]:
    names = [str(c) for c in class_names]
    if not names:
        raise MestiError("class_names", "no classes given")
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise MestiError("class_names", f"duplicate class names: {', '.join(dupes)}")
    return names


def _validated(
    y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = _class_names(class_names)
    t = _indices(y_true, "y_true", len(names))
    p = _indices(y_pred, "y_pred", len(names))
    if t.shape != p.shape:
        raise MestiError("y_pred", f"{p.size} predictions for {t.size} ground-truth labels")
    return t, p, names


def _labels(values: Sequence[Any] | np.ndarray | None, name: str, n: int) -> list[str] | None:
    if values is None:
        return None
    labels = [str(v) for v in np.asarray(values, dtype=object).reshape(-1)]
    if len(labels) != n:
        raise MestiError(name, f"{len(labels)} entries for {n} samples")
    return labels


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = truth, columns = prediction, over all ``n_classes`` classes."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def _from_confusion(cm: np.ndarray, names: list[str]) -> dict[str, Any]:
    n = int(cm.sum())
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    per_class: dict[str, dict[str, Any]] = {}
    f1s: list[float] = []
    recalls: list[float] = []
    excluded: list[str] = []
    for c, name in enumerate(names):
        t, s, p = int(tp[c]), int(support[c]), int(predicted[c])
        fp, fn = p - t, s - t
        present = s > 0
        f1 = 2 * t / (2 * t + fp + fn) if present else None
        recall = t / s if present else None
        if present:
            assert f1 is not None and recall is not None
            f1s.append(f1)
            recalls.append(recall)
        else:
            excluded.append(name)
        per_class[name] = {
            "tp": t,
            "fp": fp,
            "fn": fn,
            "support": s,
            "predicted": p,
            "precision": _ratio(t, p),
            "recall": recall,
            "f1": f1,
            "in_truth": present,
        }
    return {
        "aggregation": "pooled",
        "n": n,
        "classes": list(names),
        "accuracy": float(tp.sum()) / n,
        "uf1": float(np.mean(f1s)),
        "uar": float(np.mean(recalls)),
        "n_classes_averaged": len(f1s),
        "excluded_classes": excluded,
        "excluded_note": EXCLUDED_NOTE if excluded else None,
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def compute_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    class_names: Sequence[str],
    datasets: Sequence[str] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, UF1, UAR, per-class counts and scores, and the confusion matrix, pooled.

    ``y_true`` and ``y_pred`` are integer indices into ``class_names``, one per sample, with
    every fold's test predictions concatenated. The result is JSON-serialisable:

    - ``aggregation`` ("pooled"), ``n``, ``classes`` (the order of every table below);
    - ``accuracy``, ``uf1``, ``uar`` and ``n_classes_averaged`` (how many classes UF1/UAR
      average over);
    - ``excluded_classes`` (names never in the truth) and ``excluded_note`` (None if none);
    - ``per_class``: {name: tp, fp, fn, support, predicted, precision, recall, f1, in_truth};
      precision is None when nothing was predicted as the class, recall and f1 are None for
      an excluded class;
    - ``confusion_matrix``: rows truth, columns prediction, all classes in ``classes`` order;
    - ``per_dataset`` (only when ``datasets`` names each sample's dataset, as in the MEGC
      composite): {dataset: the same dict without ``per_dataset``}, each with its own
      excluded classes.
    """
    t, p, names = _validated(y_true, y_pred, class_names)
    ds = _labels(datasets, "datasets", t.size)
    result = _from_confusion(confusion_matrix(t, p, len(names)), names)
    if ds is not None:
        arr = np.asarray(ds, dtype=object)
        result["per_dataset"] = {
            name: _from_confusion(confusion_matrix(t[arr == name], p[arr == name], len(names)), names)
            for name in dict.fromkeys(ds)
        }
    return result


def _spread(values: list[float]) -> float | None:
    """Sample standard deviation (ddof=1); None for a single fold, where it is undefined."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def per_fold_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    folds: Sequence[Any] | np.ndarray,
    class_names: Sequence[str],
) -> dict[str, Any]:
    """Accuracy, UF1 and UAR of each fold, and their mean and spread over folds.

    ``folds`` names each sample's test fold (a LOSO subject, a hold-out repeat). Each fold's
    UF1/UAR average over the classes present in that fold's truth, which is why their mean
    differs from the pooled figure of :func:`compute_metrics`; it is returned only under
    ``fold_mean_accuracy``, ``fold_mean_uf1``, ``fold_mean_uar``, with ``fold_std_*`` (sample
    standard deviation, None for a single fold). ``folds`` holds {fold: n, accuracy, uf1, uar,
    classes_in_truth} in order of first appearance; ``n_folds`` counts them.
    """
    t, p, names = _validated(y_true, y_pred, class_names)
    fold_ids = _labels(folds, "folds", t.size)
    assert fold_ids is not None
    arr = np.asarray(fold_ids, dtype=object)
    per_fold: dict[str, dict[str, Any]] = {}
    for fold in dict.fromkeys(fold_ids):
        mask = arr == fold
        m = _from_confusion(confusion_matrix(t[mask], p[mask], len(names)), names)
        per_fold[fold] = {
            "n": m["n"],
            "accuracy": m["accuracy"],
            "uf1": m["uf1"],
            "uar": m["uar"],
            "classes_in_truth": [c for c in names if m["per_class"][c]["in_truth"]],
        }
    result: dict[str, Any] = {"aggregation": "per_fold", "n": int(t.size), "n_folds": len(per_fold), "folds": per_fold}
    for key in ("accuracy", "uf1", "uar"):
        values = [f[key] for f in per_fold.values()]
        result[f"fold_mean_{key}"] = float(np.mean(values))
        result[f"fold_std_{key}"] = _spread(values)
    return result


#: The headline figures every metrics record carries (pooled, or a mean over seeds).
FIGURES = ("accuracy", "uf1", "uar")


def check_figures(record: Any, where: str | object) -> dict[str, Any]:
    """``record`` if its headline figures are ones a run can produce (accuracy, UF1 and UAR in
    0..1, ``n`` a positive count), else :class:`MestiError` at ``where``: a damaged or edited
    file must not reach a report, a summary or a model card as if it were measured."""
    if not isinstance(record, dict):
        raise MestiError(where, "not a metrics record (a JSON object with accuracy, uf1, uar and n is expected)")
    for key in FIGURES:
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise MestiError(where, f"{key} {value!r} is not a figure in 0..1: the file was damaged or edited")
    n = record.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise MestiError(where, f"n {n!r} is not a number of test clips: the file was damaged or edited")
    return record


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A run's ``metrics.json``, checked (:func:`check_figures`); one line naming the file when
    it is missing, not JSON or holds figures no run produces."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MestiError(path, "missing: the run is not finished") from None
    except OSError as exc:
        raise from_os_error(exc, path) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MestiError(path, f"not valid JSON ({exc}): the file was damaged; remove it and re-run the command "
                               "that made it (finished folds are reused)") from None
    return check_figures(record, path)
