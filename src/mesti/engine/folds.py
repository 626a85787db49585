"""What every training engine does for one fold, written once.

A fold's seed comes from (run seed, fold name), so a fold gives the same result whether it
runs alone, after others, in a group of the stacked engine, or after a crash and resume.
From that seed come its model's initial weights, its generator (batches, augmentation), and
its validation subjects; its inputs are normalised with its own training samples. The
engines differ only in how they run the steps in between: one network after another
(:mod:`mesti.engine.sequential`) or many stacked under ``vmap`` (:mod:`mesti.engine.stacked`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mesti.errors import MestiError
from mesti.protocols.splits import Fold, subject_keys
from mesti.engine.config import TrainConfig
from mesti.engine.samples import SampleSet
from mesti.pipeline import fit_input  # noqa: F401 - the engines fit through the pipeline's one step

#: ``finished(fold)``: the stored result of a fold that need not train again, or None.
FinishedLookup = Callable[[Fold], "FoldResult | None"]
#: ``record(fold, result, model)``: store one fold as soon as it ends; ``model()`` returns
#: that fold's trained network (only called for checkpoints).
FoldRecorder = Callable[[Fold, "FoldResult", Callable[[], nn.Module]], None]
Autocast = Callable[[], AbstractContextManager[Any]]
#: ``predict(indices)``: a fold's current class probabilities for those samples (on the CPU).
Predictor = Callable[[np.ndarray], Tensor]


@dataclass
class FoldResult:
    """What one fold leaves behind: test predictions, the curves, and how it was trained."""

    name: str
    test_index: list[int]
    probs: list[list[float]]
    history: dict[str, list[float]]
    seed: int
    seconds: float
    stopped_epoch: int | None = None
    norm: dict[str, list[float]] = field(default_factory=dict)
    #: with ``report_oracle``: the test probabilities after every epoch, for the leaky oracle
    #: figure only (:mod:`mesti.studies.oracle`); never read by any choice of the trainer.
    leaky_test_probs_per_epoch: list[list[list[float]]] | None = None

    @property
    def predictions(self) -> list[int]:
        return [int(np.argmax(p)) for p in self.probs]


def fold_seed(seed: int, fold_name: str) -> int:
    """A 31-bit seed from the run seed and the fold's stable name."""
    digest = hashlib.sha256(f"{seed}:{fold_name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_for(device: torch.device, cfg: TrainConfig) -> Autocast:
    """bf16 autocast on CUDA when ``cfg.amp``; nothing elsewhere."""

    def autocast() -> AbstractContextManager[Any]:
        if device.type == "cuda" and cfg.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    return autocast


def normalizer(x: Tensor, mode: str) -> tuple[Tensor, Tensor]:
    """``1 x C x 1 x 1`` mean and std for ``cfg.normalize``, from the training images ``x``."""
    c = x.shape[1]
    if mode == "train_mean_std":
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp(min=1e-3)
    elif mode == "unit":
        mean, std = torch.full((c,), 127.5), torch.full((c,), 127.5)
    else:
        mean, std = torch.zeros(c), torch.ones(c)
    return mean.view(1, c, 1, 1), std.view(1, c, 1, 1)


def validation_split(samples: SampleSet, train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Carve validation subjects out of the training subjects only."""
    from sklearn.model_selection import GroupShuffleSplit

    keys = subject_keys([samples.subjects[i] for i in train], [samples.datasets[i] for i in train])
    n = len(set(keys))
    if n < 2:
        return train, train[:0]
    if math.ceil(fraction * n) >= n:  # scikit-learn rounds the validation side up
        raise MestiError("--val-fraction", f"{fraction:g} of the {n} training subjects leaves none to train on "
                         f"(validation takes {math.ceil(fraction * n)}); give at most {math.floor(100 * (n - 1) / n) / 100:g}")
    split = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    tr, va = next(split.split(train, groups=keys))
    return train[tr], train[va]


def split_fold(samples: SampleSet, fold: Fold, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training and validation indices (validation only when ``cfg.val_fraction``)."""
    train_idx, val_idx = np.asarray(fold.train), np.asarray([], dtype=int)
    if cfg.val_fraction > 0:
        train_idx, val_idx = validation_split(samples, train_idx, cfg.val_fraction, fold_seed(cfg.seed, fold.name))
    return train_idx, val_idx


@torch.no_grad()
def predict_probs(forward: Callable[[Tensor], Tensor], x: Tensor, batch: int, device: torch.device, autocast: Autocast,
                  norm: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Class probabilities (on the CPU) of ``x``, batch by batch; ``norm`` (mean, std) is
    applied per batch where ``x`` is raw. The caller puts the network in eval mode. No
    samples (a fold with no test side: a model trained on every subject) give ``0 x 0``."""
    if x.shape[0] == 0:
        return torch.empty(0, 0)
    out = []
    for s in range(0, x.shape[0], batch):
        xb = x[s : s + batch].to(device, non_blocking=True)
        if norm is not None:
            xb = (xb - norm[0]) / norm[1]
        with autocast():
            out.append(forward(xb).float().softmax(dim=1).cpu())
    return torch.cat(out)


@dataclass
class FoldRun:
    """One fold from its seed to its result: the plan (seed, generator, split, normaliser),
    the history, early stopping on validation subjects, and the non-finite-loss guard.

    :meth:`start` seeds torch's global generator with the fold's seed, so the model an
    engine builds right after it gets the fold's initial weights.
    """

    fold: Fold
    seed: int
    generator: torch.Generator
    train_idx: np.ndarray
    val_idx: np.ndarray
    labels: Tensor
    patience: int
    mean: Tensor  # 1 x C x 1 x 1, on the device of the images it was computed from
    std: Tensor
    history: dict[str, list[float]] = field(default_factory=lambda: {"epoch": [], "train_loss": [], "train_acc": []})
    best: Any = None
    best_val: float = float("inf")
    since_best: int = 0
    stopped: int | None = None
    report_oracle: bool = False
    leaky_test_probs: list[list[list[float]]] = field(default_factory=list)

    @classmethod
    def start(cls, samples: SampleSet, fold: Fold, cfg: TrainConfig, x_all: Tensor) -> FoldRun:
        """``x_all``: every sample's model input (``fit_input``), where the engine keeps it;
        the fold's normaliser comes from its training images there."""
        seed = fold_seed(cfg.seed, fold.name)
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        train_idx, val_idx = split_fold(samples, fold, cfg)
        mean, std = normalizer(x_all[torch.as_tensor(train_idx, dtype=torch.long, device=x_all.device)], cfg.normalize)
        return cls(fold, seed, generator, train_idx, val_idx, samples.labels, cfg.patience,
                   mean.to(x_all.device), std.to(x_all.device), report_oracle=cfg.report_oracle)

    @property
    def validates(self) -> bool:
        return len(self.val_idx) > 0

    def end_epoch(self, epoch: int, train_loss: float, train_acc: float, predict: Predictor,
                  snapshot: Callable[[], Any]) -> dict[str, float]:
        """Record an epoch, validate, and keep the best weights (``snapshot()``); stops the
        fold (``stopped``) after ``patience`` epochs without a better validation loss."""
        if not math.isfinite(train_loss):
            raise MestiError(f"fold {self.fold.name}", f"the training loss is {train_loss} in epoch {epoch}: training "
                             "diverged (lower --lr) or an input is not finite")
        stats = {"train_loss": train_loss, "train_acc": train_acc}
        if self.validates:
            vp = predict(self.val_idx)
            vy = self.labels[self.val_idx]
            stats["val_loss"] = float(F.nll_loss(vp.clamp(min=1e-8).log(), vy))
            stats["val_acc"] = float((vp.argmax(1) == vy).float().mean())
            if stats["val_loss"] < self.best_val:
                self.best_val, self.since_best = stats["val_loss"], 0
                self.best = snapshot()
            else:
                self.since_best += 1
            if self.since_best >= self.patience:
                self.stopped = epoch
        if self.report_oracle:  # recorded for the leaky report only; nothing above or after reads it
            self.leaky_test_probs.append(predict(np.asarray(self.fold.test)).tolist())
        self.history["epoch"].append(epoch)
        for k, v in stats.items():
            self.history.setdefault(k, []).append(v)
        return stats

    def result(self, predict: Predictor, seconds: float) -> FoldResult:
        """Predict the test samples (with the best weights already restored) and wrap up."""
        probs = predict(np.asarray(self.fold.test))
        return FoldResult(
            name=self.fold.name,
            test_index=[int(i) for i in self.fold.test],
            probs=probs.tolist(),
            history=self.history,
            seed=self.seed,
            seconds=seconds,
            stopped_epoch=self.stopped,
            norm={"mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()},
            leaky_test_probs_per_epoch=self.leaky_test_probs if self.report_oracle else None,
        )
