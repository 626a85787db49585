"""The difficulty check of a synthetic set: is the label in motion only?

A simple classifier (standardised features, logistic regression with balanced class
weights) is scored leave-one-subject-out on four inputs:

- ``apex``: the apex frame's grey levels on a coarse grid. Must sit near chance; if it
  does not, the generator leaks the label through appearance.
- ``mesti``: log energy of the MESTI image (where something moved) on the grid.
- ``mesti_motion``: MESTI turned back into displacement: MESTI is about
  ``-(sum_t alpha_t d_t) . grad I``, so a least-squares fit over small windows
  (Lucas-Kanade on the MESTI image) recovers the signed motion, its direction included.
- ``flow``: TV-L1 flow onset -> apex (u, v) on the grid (slower: one TV-L1 per clip).

Scores are pooled over folds (UAR, UF1, accuracy; docs/protocols.md, Metrics).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.modalities import encode, mesti_weights, tvl1_flow
from mesti.utils.hooks import Hooks

FEATURES = ("apex", "mesti", "mesti_motion", "flow")
DEFAULT_FEATURES = ("apex", "mesti", "mesti_motion")


@dataclass(frozen=True)
class DifficultyScore:
    """Leave-one-subject-out scores of one input; ``chance_uar`` is 1 / number of classes."""

    feature: str
    uar: float
    uf1: float
    accuracy: float
    chance_uar: float
    clips: int
    subjects: int

    def line(self) -> str:
        return (f"{self.feature:<13} UAR {self.uar:.3f}  UF1 {self.uf1:.3f}  accuracy {self.accuracy:.3f}"
                f"  (chance UAR {self.chance_uar:.3f}; {self.clips} clips, {self.subjects} subjects)")


def _grey(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float32).mean(axis=-1)


def _grid(image: np.ndarray, grid: int) -> np.ndarray:
    return cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (grid, grid), interpolation=cv2.INTER_AREA)


def mesti_motion(clip: Clip, window: int = 9) -> np.ndarray:
    """``H x W x 2`` displacement recovered from the clip's MESTI image (see the module docstring).

    In units of MESTI-weighted pixels: proportional to the movement toward the apex.
    """
    w = mesti_weights(clip.length, clip.apex_in_window)
    m = _grey(encode(clip, "mesti", scale="raw")) / float(np.clip(w, 0, None).sum())
    ref = cv2.GaussianBlur(_grey(clip.window().mean(axis=0)), (0, 0), 1.0)
    gy, gx = np.gradient(ref)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a.astype(np.float32), -1, (window, window))

    a11, a12, a22 = box(gx * gx), box(gx * gy), box(gy * gy)
    b1, b2 = box(-gx * m), box(-gy * m)
    det = a11 * a22 - a12 * a12 + 0.1  # small ridge: flat windows give ~0, not noise
    return np.stack([(a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det], axis=-1)


def clip_features(clip: Clip, features: Sequence[str] = DEFAULT_FEATURES, grid: int = 8) -> dict[str, np.ndarray]:
    """One feature vector per requested input for a clip (see :data:`FEATURES`)."""
    out: dict[str, np.ndarray] = {}
    for name in features:
        if name == "apex":
            out[name] = _grid(_grey(clip.frames[clip.apex]), 2 * grid).ravel()
        elif name == "mesti":
            energy = _grid(np.abs(_grey(encode(clip, "mesti", scale="raw"))), grid)
            out[name] = np.log(energy / energy.mean() + 1e-3).ravel()
        elif name == "mesti_motion":
            out[name] = _grid(mesti_motion(clip), grid).ravel()
        elif name == "flow":
            out[name] = _grid(tvl1_flow(clip.frames[clip.onset], clip.frames[clip.apex]), grid).ravel()
        else:
            raise MestiError("features", f"unknown feature {name!r}; choose from {', '.join(FEATURES)}")
    return out


def loso_scores(x: np.ndarray, labels: Sequence[str], subjects: Sequence[str], feature: str = "") -> DifficultyScore:
    """Leave-one-subject-out logistic regression on ``x`` (clips x features), predictions pooled."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, f1_score
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y, groups = np.asarray(labels), np.asarray(subjects)
    if len(set(groups)) < 2:
        raise MestiError("difficulty", "leave-one-subject-out needs at least 2 subjects")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000))
    pred = cross_val_predict(model, x, y, groups=groups, cv=LeaveOneGroupOut())
    present = sorted(set(y))
    return DifficultyScore(
        feature=feature,
        uar=float(balanced_accuracy_score(y, pred)),
        uf1=float(f1_score(y, pred, labels=present, average="macro", zero_division=0)),
        accuracy=float((pred == y).mean()),
        chance_uar=1.0 / len(present),
        clips=len(y),
        subjects=len(set(groups)),
    )


def difficulty_check(
    root: str | Path,
    classes: int = 5,
    features: Sequence[str] = DEFAULT_FEATURES,
    grid: int = 8,
    hooks: Hooks | None = None,
) -> list[DifficultyScore]:
    """Score each input on the set at ``root`` (read with the ``casme2`` adapter)."""
    from mesti.datasets.casme2 import CASME2

    records = [r for r in CASME2(root, classes=classes).records() if r.label is not None]
    if not records:
        raise MestiError(root, "no labelled clips to score")
    rows: dict[str, list[np.ndarray]] = {f: [] for f in features}
    labels, subjects = [], []
    for i, rec in enumerate(records):
        for name, vec in clip_features(rec.load(), features, grid).items():
            rows[name].append(vec)
        labels.append(str(rec.label))
        subjects.append(rec.subject)
        if hooks is not None:
            hooks.stage_advanced("difficulty", i + 1, len(records))
    return [loso_scores(np.stack(rows[f]), labels, subjects, f) for f in features]
