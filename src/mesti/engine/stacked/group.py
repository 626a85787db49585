"""One group of folds trained together: parameters stacked along a fold axis, one ``vmap``
step for all of them, each fold's own data, augmentation, dropout masks and early stopping."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from mesti.errors import MestiError
from mesti.protocols.splits import Fold
from mesti.engine.augment import warp
from mesti.engine.config import TrainConfig
from mesti.engine.folds import (
    FoldResult,
    FoldRun,
    Predictor,
    autocast_for,
    fit_input,
    predict_probs,
    resolve_device,
)
from mesti.engine.losses import create_loss
from mesti.engine.optimizers import create_optimizer
from mesti.engine.samples import SampleSet
from mesti.engine.stacked.noise import draw_masks, noise_generator, probe, swap_noise_modules
from mesti.engine.stacked.options import StackedOptions
from mesti.engine.stacked.schedule import EpochPlan, FoldStream, StackSchedule, plan_epoch, plan_schedule
from mesti.utils.hooks import Hooks


@dataclass
class StackedGroup:
    """The folds of one group after training: their results and their stacked weights."""

    results: list[FoldResult]
    params: dict[str, Tensor]
    buffers: dict[str, Tensor]
    build_model: Callable[[], nn.Module]

    def module(self, k: int) -> nn.Module:
        """Fold ``k``'s trained network as an ordinary module (for checkpoints)."""
        with torch.random.fork_rng(devices=[]):
            model = self.build_model()
        keys = set(model.state_dict())
        state = {n: t[k].detach().cpu() for n, t in {**self.params, **self.buffers}.items() if n in keys}
        model.load_state_dict(state)
        return model.eval()


def train_group(
    samples: SampleSet,
    folds: Sequence[Fold],
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    *,
    schedule: StackSchedule | None = None,
    options: StackedOptions | None = None,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
    hooks: Hooks | None = None,
) -> StackedGroup:
    """Train ``folds`` together and predict each fold's test samples with its own model.

    ``schedule`` defaults to the plan for ``folds`` alone; pass the run's plan
    (:func:`~mesti.engine.stacked.schedule.plan_schedule` over all folds) so a fold trains
    the same in any group. ``hooks.epoch_ended`` gets the group's mean statistics over the folds still
    training. Each result's ``seconds`` is the group's wall time divided by its number of folds.
    """
    start = time.perf_counter()
    options = options or StackedOptions()
    if not folds:
        raise MestiError("stacked engine", "a group needs at least one fold")
    device = resolve_device(cfg.device)
    use_cuda = device.type == "cuda"
    autocast = autocast_for(device, cfg)
    schedule = schedule or plan_schedule(samples, folds, cfg)
    b = schedule.batch_size
    x_all = fit_input(samples.images, input_size, in_chans).to(device)  # once for the group; its normalisers there too
    y_all = samples.labels.to(device)

    runs: list[FoldRun] = []
    noise_gens: list[torch.Generator] = []
    models: list[nn.Module] = []
    for fold in folds:
        run = FoldRun.start(samples, fold, cfg, x_all)
        models.append(build_model())
        noise_gens.append(noise_generator(run.seed, device))
        if len(run.train_idx) < b:
            raise MestiError(f"fold {fold.name}", f"{len(run.train_idx)} training samples, fewer than the schedule's batch of {b}")
        runs.append(run)
    streams = [FoldStream(run.train_idx, run.generator) for run in runs]

    stacked_params, stacked_buffers = stack_module_state(models)
    params = {n: t.detach().to(device).requires_grad_(t.requires_grad) for n, t in stacked_params.items()}
    buffers = {n: t.to(device) for n, t in stacked_buffers.items()}
    base = models[0]  # the structure; its own tensors are never read (functional_call replaces them all)
    del models, stacked_params, stacked_buffers
    noises = swap_noise_modules(base)
    base.to(device)
    order, _ = probe(base, (x_all[:2] - runs[0].mean) / runs[0].std, noises, autocast)

    mean = torch.stack([run.mean for run in runs])  # F x 1 x C x 1 x 1
    std = torch.stack([run.std for run in runs])
    loss_fn = create_loss(cfg.loss, cfg.focal_gamma).to(device)

    def fold_step(p: dict[str, Tensor], bufs: dict[str, Tensor], masks: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        logits = functional_call(base, (p, bufs, masks), (x,))
        return loss_fn(logits.float(), y), logits.argmax(dim=1)

    step: Callable[..., tuple[Tensor, Tensor]] = vmap(fold_step, randomness="error")
    if options.compile:
        step = torch.compile(step)
    interleave = options.interleave if options.interleave is not None else (use_cuda and cfg.channels_last)

    def predictor(k: int) -> Predictor:
        def predict(index: np.ndarray) -> Tensor:
            base.eval()
            state = {n: t[k] for n, t in params.items()}, {n: t[k] for n, t in buffers.items()}
            return predict_probs(lambda xb: functional_call(base, state, (xb,)), x_all[index], cfg.batch_size, device,
                                 autocast, norm=(runs[k].mean, runs[k].std))

        return predict

    def snapshot(k: int) -> Callable[[], dict[str, Tensor]]:
        @torch.no_grad()
        def take() -> dict[str, Tensor]:
            return {n: t[k].detach().clone() for n, t in {**params, **buffers}.items()}

        return take

    opt = create_optimizer([t for t in params.values() if t.requires_grad], cfg)
    validating = any(run.validates for run in runs)
    for epoch in range(1, cfg.epochs + 1):
        base.train()
        total = torch.zeros(len(runs), dtype=torch.float64, device=device)
        correct = torch.zeros(len(runs), dtype=torch.long, device=device)
        plan = plan_epoch(streams, schedule.steps_per_epoch, b, cfg, device)
        for i in range(schedule.steps_per_epoch):
            idx = plan.idx[i]
            masks = draw_masks(order, noise_gens, b, device)
            x = augment(((x_all[idx] - mean) / std), plan, i)
            if interleave:
                x = interleave_folds(x)
            y = y_all[idx]
            try:
                with autocast():
                    losses, preds = step(params, buffers, masks, x, y)
            except RuntimeError as exc:
                if "randomness" not in str(exc):
                    raise
                raise MestiError("stacked engine", "the network draws random numbers inside its forward that the "
                                 "stacked engine cannot give each fold its own stream of; use --engine sequential") from exc
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            total += losses.detach().double() * b
            correct += (preds == y).sum(dim=1)
        seen = schedule.steps_per_epoch * b
        epoch_loss, epoch_acc = (total / seen).tolist(), (correct.double() / seen).tolist()  # one host sync per epoch
        active = [k for k, run in enumerate(runs) if run.stopped is None]
        for k in active:  # a stopped fold's later steps are discarded: its loss is no longer looked at
            runs[k].end_epoch(epoch, epoch_loss[k], epoch_acc[k], predictor(k), snapshot(k))
        if hooks is not None and active:
            keys = dict.fromkeys(key for k in active for key in runs[k].history if key != "epoch")
            stats = {key: float(np.mean([runs[k].history[key][-1] for k in active if key in runs[k].history]))
                     for key in keys}
            hooks.epoch_ended(epoch, cfg.epochs, stats)
        if validating and all(run.stopped is not None for run in runs):
            break

    with torch.no_grad():  # folds chosen on validation subjects (training side only) get their best weights back
        for k, run in enumerate(runs):
            if run.best is not None:
                for n, t in {**params, **buffers}.items():
                    t[k].copy_(run.best[n])
    seconds = (time.perf_counter() - start) / len(runs)
    results = [run.result(predictor(k), seconds) for k, run in enumerate(runs)]
    return StackedGroup(results, {n: t.detach() for n, t in params.items()}, buffers, build_model)


def augment(x: Tensor, plan: EpochPlan, step: int) -> Tensor:
    """Flip, rotate and crop ``F x B`` images in one ``grid_sample`` (augment_batch's transform);
    folds whose draws say "unchanged" keep their batch as it is."""
    if plan.theta is None or plan.all_keep[step]:
        return x
    f, b = x.shape[:2]
    flat = x.reshape(f * b, *x.shape[2:])
    out = warp(flat, plan.theta[step].to(dtype=x.dtype)).view_as(x)
    if plan.any_keep[step]:
        assert plan.keep is not None
        out = torch.where(plan.keep[step], x, out)
    return out


def interleave_folds(x: Tensor) -> Tensor:
    """``F x B x C x H x W`` stored as ``B x H x W x F x C``: vmap's grouped convolutions
    fold F into the channels, which this makes a channels-last ``B x FC x H x W`` view."""
    return x.permute(1, 3, 4, 0, 2).contiguous().permute(3, 0, 4, 1, 2)
