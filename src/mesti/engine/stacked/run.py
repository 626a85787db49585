"""Every fold of a run through the stacked engine: groups in protocol order, each recorded
as soon as it ends, a group that runs out of memory split in half."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from mesti.errors import MestiError
from mesti.protocols.splits import Fold
from mesti.engine.config import TrainConfig
from mesti.engine.folds import FinishedLookup, FoldRecorder, FoldResult, resolve_device
from mesti.engine.samples import SampleSet
from mesti.engine.stacked.group import StackedGroup, train_group
from mesti.engine.stacked.memory import auto_folds_per_group, smaller_group
from mesti.engine.stacked.options import StackedOptions
from mesti.engine.stacked.schedule import plan_schedule
from mesti.utils.hooks import Hooks


def run_stacked(
    samples: SampleSet,
    folds: Sequence[Fold],
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    *,
    finished: FinishedLookup,
    record: FoldRecorder,
    options: StackedOptions | None = None,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
    hooks: Hooks | None = None,
) -> list[FoldResult]:
    """Every fold of a run, in groups: finished folds are skipped, the unfinished ones are
    grouped in protocol order, and each group's folds are recorded as soon as it ends.

    ``hooks.fold_started(name, i, n)`` is called for a finished fold when it is skipped and for a
    fold to train just before its group starts. Results come back in ``folds`` order.
    """
    options = options or StackedOptions()
    schedule = plan_schedule(samples, folds, cfg)
    results: dict[str, FoldResult] = {}
    pending: list[tuple[int, Fold]] = []
    for i, fold in enumerate(folds):
        done = finished(fold)
        if done is None:
            pending.append((i, fold))
            continue
        if hooks is not None:
            hooks.fold_started(fold.name, i, len(folds))
        results[fold.name] = done
    size = options.folds_per_group
    if size is None and pending:
        size = auto_folds_per_group(samples, build_model, cfg, schedule, options, input_size, in_chans)
    size = size or max(len(pending), 1)
    device = resolve_device(cfg.device)
    g = 0
    while g < len(pending):
        group = pending[g : g + size]
        if hooks is not None:
            for i, fold in group:
                hooks.fold_started(fold.name, i, len(folds))
        trained: StackedGroup | None
        try:
            trained = train_group(samples, [f for _, f in group], build_model, cfg, schedule=schedule, options=options,
                                  input_size=input_size, in_chans=in_chans, hooks=hooks)
        except torch.OutOfMemoryError as exc:
            if len(group) == 1:
                raise MestiError(f"fold {group[0][1].name}", f"one fold alone does not fit in the memory of {device}; "
                                 "lower --batch-size or --img-size, or use --engine sequential") from exc
            trained = None
        if trained is None:  # out of the except block, so its traceback no longer holds the group's tensors
            size = smaller_group(len(group), device)
            continue
        for k, (_, fold) in enumerate(group):
            record(fold, trained.results[k], partial(trained.module, k))
            results[fold.name] = trained.results[k]
        g += len(group)
        del trained
    return [results[f.name] for f in folds]
