"""The pictures of a run report: confusion matrix, training curves, and the grid's bar chart.

Each function renders off-screen (Agg), into memory, and writes the PNG atomically, so a
report never links to a half-written picture.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from mesti.errors import MestiError  # noqa: E402
from mesti.utils.atomic import write_bytes  # noqa: E402

_DPI = 100
_SERIES_COLOURS = {"train": "tab:blue", "val": "tab:orange"}


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=_DPI)
    finally:
        plt.close(fig)
    return write_bytes(path, buf.getvalue())


def confusion_matrix_png(
    cm: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str | None = None,
    normalize: bool = True,
) -> Path:
    """Draw a confusion matrix (rows truth, columns prediction) and save it as a PNG.

    With ``normalize`` each cell shows its count and its share of the true class (row
    percentage) and is shaded by that share, so a rare class is as readable as a common one;
    without it cells show counts and are shaded by count. A class absent from the truth gets
    an empty row, marked "n=0".
    """
    counts = np.asarray(cm)
    k = len(class_names)
    if counts.shape != (k, k):
        raise MestiError("confusion matrix", f"shape {counts.shape} does not match {k} class names")
    if counts.dtype.kind not in "iu" or (counts < 0).any():
        raise MestiError("confusion matrix", "expected non-negative integer counts")
    support = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(support[:, None] > 0, counts / np.maximum(support[:, None], 1), 0.0)
    shade = share if normalize else counts.astype(float)
    vmax = 1.0 if normalize else max(1.0, float(counts.max()))

    side = max(4.5, 0.95 * k + 2.8)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    image = ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=vmax)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class" if normalize else "count")
    for i in range(k):
        for j in range(k):
            text = f"{counts[i, j]}"
            if normalize:
                text += f"\n{100 * share[i, j]:.1f}%" if support[i] else "\n-"
            dark = shade[i, j] > 0.55 * vmax
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_xticks(range(k), [str(c) for c in class_names], rotation=35, ha="right")
    ax.set_yticks(range(k), [f"{c} (n={int(s)})" for c, s in zip(class_names, support, strict=True)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"Confusion matrix ({int(counts.sum())} samples)", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def _curve(history: Mapping[str, Sequence[float]], key: str, fold: str) -> tuple[np.ndarray, np.ndarray] | None:
    if key not in history or history[key] is None:
        return None
    epochs = np.asarray(history["epoch"], dtype=float)
    values = np.asarray(history[key], dtype=float)
    if values.shape != epochs.shape:
        raise MestiError(f"history of fold {fold}", f"{key} has {values.size} values for {epochs.size} epochs")
    return epochs, values


def _mean_curve(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean at each epoch over the folds that reached it (early stopping ends folds apart)."""
    epochs = np.unique(np.concatenate([e for e, _ in curves]))
    means = np.array([np.mean([v[e == x][0] for e, v in curves if (e == x).any()]) for x in epochs])
    return epochs, means


def training_curves_png(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Plot loss and accuracy per epoch: a thin line per fold and a bold mean over folds.

    ``histories`` maps a fold name to {"epoch", "train_loss", "train_acc", and optionally
    "val_loss", "val_acc"} lists of equal length. Validation curves are drawn dashed; they
    come from a split of the training subjects, never from the test fold.
    """
    if not histories:
        raise MestiError("training curves", "no fold histories given")
    for fold, history in histories.items():
        if "epoch" not in history:
            raise MestiError(f"history of fold {fold}", "has no 'epoch' list")
        missing = [k for k in ("train_loss", "train_acc") if k not in history]
        if missing:
            raise MestiError(f"history of fold {fold}", f"missing {', '.join(missing)}")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, label in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
        for split in ("train", "val"):
            key = f"{split}_{metric}"
            curves = [c for fold, h in histories.items() if (c := _curve(h, key, str(fold))) is not None]
            if not curves:
                continue
            colour, style = _SERIES_COLOURS[split], "-" if split == "train" else "--"
            for epochs, values in curves:
                ax.plot(epochs, values, color=colour, linestyle=style, linewidth=0.7, alpha=0.35)
            epochs, means = _mean_curve(curves)
            ax.plot(epochs, means, color=colour, linestyle=style, linewidth=2.4,
                    label=f"{split} (mean of {len(curves)} folds)")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("loss")
    axes[1].set_title("accuracy")
    fig.suptitle(title or f"Training curves, {len(histories)} folds (thin: one fold; bold: mean)", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def _number(value: Any) -> float:
    """A float, or NaN for a missing value (None, "", an unfinished cell)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def bar_chart_png(
    rows: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Compare UF1 and UAR of every (modality, model) cell of a grid as grouped bars.

    ``rows`` are summary rows with "modality", "model", "uf1", "uar" and optionally
    "dataset", "protocol" and spreads "uf1_std", "uar_std" (drawn as error bars). Each
    (dataset, protocol) gets its own row of panels, so numbers from different protocols are
    never drawn side by side as if comparable.
    """
    if not rows:
        raise MestiError("bar chart", "no summary rows given")
    for i, row in enumerate(rows):
        missing = [k for k in ("modality", "model", "uf1", "uar") if k not in row]
        if missing:
            raise MestiError(f"summary row {i}", f"missing {', '.join(missing)}")
    groups = list(dict.fromkeys((str(r.get("dataset", "")), str(r.get("protocol", ""))) for r in rows))
    modalities = list(dict.fromkeys(str(r["modality"]) for r in rows))
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    width = 0.8 / len(models)
    x = np.arange(len(modalities))
    colours = plt.get_cmap("tab10")

    panel_w = max(4.0, 1.0 + len(modalities) * (0.35 * len(models) + 0.3))
    fig_w = 2 * panel_w + 1.5  # two panels and the legend
    fig, axes = plt.subplots(len(groups), 2, figsize=(fig_w, 3.6 * len(groups)), squeeze=False)
    for g, (dataset, protocol) in enumerate(groups):
        cell = {(str(r["modality"]), str(r["model"])): r for r in rows
                if (str(r.get("dataset", "")), str(r.get("protocol", ""))) == (dataset, protocol)}
        for col, metric in enumerate(("uf1", "uar")):
            ax = axes[g, col]
            for m, model in enumerate(models):
                found = [cell.get((mod, model)) for mod in modalities]
                heights = np.array([_number(r[metric]) if r else np.nan for r in found])
                errors = np.array([_number(r.get(f"{metric}_std")) if r else np.nan for r in found])
                drawn = np.isfinite(heights)  # a missing cell gets no bar rather than a zero
                has_err = bool(np.isfinite(errors[drawn]).any())
                ax.bar(x[drawn] + (m - (len(models) - 1) / 2) * width, heights[drawn], width,
                       yerr=np.nan_to_num(errors[drawn]) if has_err else None, capsize=3 if has_err else 0,
                       color=colours(m % 10), label=model)
            ax.set_xticks(x, modalities, rotation=20, ha="right")
            ax.set_ylim(0, 1)
            ax.set_ylabel(metric.upper())
            ax.grid(axis="y", alpha=0.3)
            heading = ", ".join(s for s in (dataset, protocol) if s)
            ax.set_title(f"{metric.upper()}" + (f" - {heading}" if heading else ""), fontsize=10)
            if col == 1:
                ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title or "UF1 and UAR per modality and model", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def rank_weights_png(length: int, apex: int, path: str | os.PathLike[str]) -> Path:
    """The paper's Fig. 2: per-frame coefficients of MESTI and of the dynamic image (``apex`` 1-based)."""
    from mesti.modalities.rank_pooling import bilen_weights, mesti_weights, simplified_rank_weights

    t = np.arange(1, length + 1)
    series = [
        ("MESTI: 2t - a - 1, then T - 2t + a + 1", mesti_weights(length, apex), "tab:red", "o"),
        ("dynamic image, simplified: 2t - T - 1", simplified_rank_weights(length), "tab:blue", "s"),
        ("dynamic image, Bilen (harmonic numbers)", bilen_weights(length), "tab:green", "^"),
    ]
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, w, colour, marker in series:
        ax.plot(t, w, marker=marker, color=colour, label=label, lw=1.2, ms=4)
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(apex, color="tab:red", lw=0.6, ls="--")
    ax.set_xlabel("frame t (1-based, onset = 1)")
    ax.set_ylabel("coefficient")
    ax.set_title(f"Rank-pooling coefficients, T = {length}, apex a = {apex}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
