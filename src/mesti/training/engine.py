"""Train one fold on a fixed schedule and predict its test samples.

The trainer sees tensors only. Its seed comes from (run seed, fold name), so a fold gives
the same result whether it runs alone, after others, or after a crash and resume.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mesti.protocols.splits import Fold, subject_keys
from mesti.training.augment import augment_batch
from mesti.training.config import TrainConfig
from mesti.training.losses import create_loss
from mesti.training.samples import SampleSet

EpochCallback = Callable[[int, int, dict[str, float]], None]


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


def fit_input(x: torch.Tensor, size: tuple[int, int] | None, channels: int | None) -> torch.Tensor:
    """Resize to the model's declared input size and match its channel count."""
    if channels is not None and x.shape[1] != channels:
        if channels == 1:
            x = x.mean(dim=1, keepdim=True)
        elif x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            x = x[:, :channels]
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous()


def _normalizer(x: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    c = x.shape[1]
    if mode == "train_mean_std":
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp(min=1e-3)
    elif mode == "unit":
        mean, std = torch.full((c,), 127.5), torch.full((c,), 127.5)
    else:
        mean, std = torch.zeros(c), torch.ones(c)
    return mean.view(1, c, 1, 1), std.view(1, c, 1, 1)


def _validation_split(samples: SampleSet, train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Carve validation subjects out of the training subjects only."""
    from sklearn.model_selection import GroupShuffleSplit

    keys = subject_keys([samples.subjects[i] for i in train], [samples.datasets[i] for i in train])
    if len(set(keys)) < 2:
        return train, train[:0]
    split = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    tr, va = next(split.split(train, groups=keys))
    return train[tr], train[va]


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, batch: int, device: torch.device, autocast: Any) -> torch.Tensor:
    model.eval()
    if x.shape[0] == 0:  # a fold with no test side (a model trained on every subject)
        return torch.empty(0, 0)
    out = []
    for s in range(0, x.shape[0], batch):
        xb = x[s : s + batch].to(device, non_blocking=True)
        with autocast():
            out.append(model(xb).float().softmax(dim=1).cpu())
    return torch.cat(out)


def create_optimizer(params: list[torch.Tensor], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The configured optimizer: Adam, or SGD with momentum 0.9. Both act elementwise, so
    one over stacked fold parameters is one per fold (the stacked engine relies on that)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


def train_fold(
    samples: SampleSet,
    fold: Fold,
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[FoldResult, nn.Module]:
    """Train a fresh model on ``fold.train`` for ``cfg.epochs`` and predict ``fold.test``."""
    start = time.perf_counter()
    device = resolve_device(cfg.device)
    seed = fold_seed(cfg.seed, fold.name)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_model().to(device)
    use_cuda = device.type == "cuda"
    if use_cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)

    def autocast() -> Any:
        return torch.autocast("cuda", dtype=torch.bfloat16) if use_cuda and cfg.amp else nullcontext()

    train_idx, val_idx = np.asarray(fold.train), np.asarray([], dtype=int)
    if cfg.val_fraction > 0:
        train_idx, val_idx = _validation_split(samples, train_idx, cfg.val_fraction, seed)

    x_all = fit_input(samples.images, input_size, in_chans)
    mean, std = _normalizer(x_all[train_idx], cfg.normalize)
    x_all = (x_all - mean) / std
    y_all = samples.labels
    x_train, y_train = x_all[train_idx].to(device), y_all[train_idx].to(device)

    loss_fn = create_loss(cfg.loss, cfg.focal_gamma).to(device)
    opt = create_optimizer([p for p in model.parameters() if p.requires_grad], cfg)

    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "train_acc": []}
    best_state, best_val, since_best, stopped = None, float("inf"), 0, None
    n = len(train_idx)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total_loss, correct, seen = 0.0, 0, 0
        for s in range(0, n, cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            if len(idx) < 2 and n >= 2:  # BatchNorm cannot train on a batch of one
                continue
            xb = augment_batch(x_train[idx.to(device)], gen, cfg.flip, cfg.rotations)
            yb = y_train[idx.to(device)]
            if use_cuda and cfg.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = model(xb)
            loss = loss_fn(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
        stats = {"train_loss": total_loss / max(seen, 1), "train_acc": correct / max(seen, 1)}
        if len(val_idx):
            vp = _predict(model, x_all[val_idx], cfg.batch_size, device, autocast)
            vy = y_all[val_idx]
            stats["val_loss"] = float(F.nll_loss(vp.clamp(min=1e-8).log(), vy))
            stats["val_acc"] = float((vp.argmax(1) == vy).float().mean())
            if stats["val_loss"] < best_val:
                best_val, since_best = stats["val_loss"], 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
        history["epoch"].append(epoch)
        for k, v in stats.items():
            history.setdefault(k, []).append(v)
        if on_epoch is not None:
            on_epoch(epoch, cfg.epochs, stats)
        if len(val_idx) and since_best >= cfg.patience:
            stopped = epoch
            break
    if best_state is not None:  # chosen on validation subjects from the training side only
        model.load_state_dict(best_state)
    probs = _predict(model, x_all[np.asarray(fold.test)], cfg.batch_size, device, autocast)
    result = FoldResult(
        name=fold.name,
        test_index=[int(i) for i in fold.test],
        probs=probs.tolist(),
        history=history,
        seed=seed,
        seconds=time.perf_counter() - start,
        stopped_epoch=stopped,
        norm={"mean": mean.flatten().tolist(), "std": std.flatten().tolist()},
    )
    return result, model
