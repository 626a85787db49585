"""The leaky "oracle" figure: what choosing each fold's best epoch on its test subject gives.

Some published code keeps, for every LOSO fold, the epoch whose test accuracy is highest and
pools those predictions. That reads the test labels to choose, so the figure is optimistic;
with ``report_oracle`` a run records each fold's test predictions at every epoch and reports
this figure beside its honest one, labelled as leaky, so the gap can be seen. Nothing here
feeds a choice: the honest predictions are made before and without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mesti.reports.metrics import ORACLE_LABEL, compute_metrics
from mesti.engine.folds import FoldResult


def best_test_epochs(result: FoldResult, labels: Sequence[int]) -> tuple[int, list[list[float]]]:
    """The fold's epoch (1-based, the earliest on ties) with the most correct test predictions,
    and its test probabilities; ``labels`` are every sample's class indices."""
    per_epoch = result.leaky_test_probs_per_epoch or []
    truth = np.asarray([labels[i] for i in result.test_index])
    correct = [int((np.asarray(p).reshape(len(truth), -1).argmax(1) == truth).sum()) if len(truth) else 0
               for p in per_epoch]
    best = int(np.argmax(correct))
    return result.history["epoch"][best], per_epoch[best]


def oracle_metrics(results: Sequence[FoldResult], labels: Sequence[int], class_names: Sequence[str],
                   protocol: str) -> dict[str, Any] | None:
    """Pooled metrics of each fold's best-test-accuracy epoch, labelled; None when the run
    recorded no per-epoch test predictions."""
    if not results or any(not r.leaky_test_probs_per_epoch for r in results):
        return None
    y_true: list[int] = []
    y_pred: list[int] = []
    epochs = {}
    for r in results:
        epoch, probs = best_test_epochs(r, labels)
        epochs[r.name] = epoch
        y_true += [int(labels[i]) for i in r.test_index]
        y_pred += [int(np.argmax(p)) for p in probs]
    m = compute_metrics(y_true, y_pred, list(class_names))
    return {"label": ORACLE_LABEL, "protocol": f"{protocol}; {ORACLE_LABEL}",
            **{k: m[k] for k in ("accuracy", "uf1", "uar", "n")}, "epochs": epochs}
