"""The sequential engine: one fold after another, each a plain training loop.

Everything a fold owns (seed, split, normaliser, early stopping, prediction, augmentation
draws) lives in :mod:`mesti.engine.folds` and :mod:`mesti.engine.augment`, shared with
the stacked engine; this module is the loop over one network.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from mesti.protocols.splits import Fold
from mesti.engine.augment import augment_batch
from mesti.engine.config import TrainConfig
from mesti.engine.folds import (
    FinishedLookup,
    FoldRecorder,
    FoldResult,
    FoldRun,
    autocast_for,
    fit_input,
    predict_probs,
    resolve_device,
)
from mesti.engine.losses import create_loss
from mesti.engine.optimizers import create_optimizer
from mesti.engine.samples import SampleSet
from mesti.utils.hooks import Hooks


def train_fold(
    samples: SampleSet,
    fold: Fold,
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
    hooks: Hooks | None = None,
) -> tuple[FoldResult, nn.Module]:
    """Train a fresh model on ``fold.train`` for ``cfg.epochs`` and predict ``fold.test``."""
    start = time.perf_counter()
    device = resolve_device(cfg.device)
    x_all = fit_input(samples.images, input_size, in_chans)
    run = FoldRun.start(samples, fold, cfg, x_all)
    model = build_model().to(device)
    use_cuda = device.type == "cuda"
    if use_cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = autocast_for(device, cfg)
    x_all = (x_all - run.mean) / run.std
    x_train, y_train = x_all[run.train_idx].to(device), samples.labels[run.train_idx].to(device)

    def predict(index: np.ndarray) -> torch.Tensor:
        model.eval()
        return predict_probs(model, x_all[index], cfg.batch_size, device, autocast)

    loss_fn = create_loss(cfg.loss, cfg.focal_gamma).to(device)
    opt = create_optimizer([p for p in model.parameters() if p.requires_grad], cfg)
    n = len(run.train_idx)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=run.generator)
        # summed on the device, read once per epoch: no step waits for the host
        total_loss = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        seen = 0
        for s in range(0, n, cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            if len(idx) < 2 and n >= 2:  # BatchNorm cannot train on a batch of one
                continue
            xb = augment_batch(x_train[idx.to(device)], run.generator, cfg.flip, cfg.rotations, cfg.crop)
            yb = y_train[idx.to(device)]
            if use_cuda and cfg.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast():
                logits = model(xb)
            loss = loss_fn(logits.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += loss.detach().double() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
            seen += len(idx)
        stats = run.end_epoch(epoch, float(total_loss) / max(seen, 1), int(correct) / max(seen, 1), predict,
                              lambda: copy.deepcopy(model.state_dict()))
        if hooks is not None:
            hooks.epoch_ended(epoch, cfg.epochs, stats)
        if run.stopped is not None:
            break
    if run.best is not None:  # chosen on validation subjects from the training side only
        model.load_state_dict(run.best)
    return run.result(predict, time.perf_counter() - start), model


def run_sequential(
    samples: SampleSet,
    folds: Sequence[Fold],
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    *,
    finished: FinishedLookup,
    record: FoldRecorder,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
    hooks: Hooks | None = None,
) -> list[FoldResult]:
    """Every fold of a run, one after another: a finished fold is read back, any other is
    trained and recorded before the next starts. ``hooks.fold_started(name, i, n)`` is called
    for every fold as it is reached. Results come back in ``folds`` order."""
    results: list[FoldResult] = []
    for i, fold in enumerate(folds):
        done = finished(fold)
        if hooks is not None:
            hooks.fold_started(fold.name, i, len(folds))
        if done is not None:
            results.append(done)
            continue
        result, model = train_fold(samples, fold, build_model, cfg, input_size=input_size, in_chans=in_chans,
                                   hooks=hooks)
        record(fold, result, lambda: model)  # called before the loop moves on
        results.append(result)
    return results
