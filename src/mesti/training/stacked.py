"""Train many folds at once: one network per fold, stacked with ``torch.func`` under one ``vmap``.

A LOSO study is many small trainings (68 folds for the MEGC 2019 composite). Run one after
another, an accelerator mostly waits on Python and small kernels. Here a *group* of folds
trains in one step: the folds' parameters and buffers are stacked along a leading fold
dimension (:func:`torch.func.stack_module_state`) and :func:`torch.func.functional_call`
runs under :func:`torch.func.vmap` over that dimension, so every layer runs once for the
whole group (a convolution becomes a grouped convolution).

Each fold stays its own training:

* **Model**: built as :func:`~mesti.training.engine.train_fold` builds it,
  ``torch.manual_seed(fold_seed(seed, fold))`` then ``build_model()``.
* **Gradient and optimizer**: the loss is the *sum* over folds of each fold's mean loss, so
  one backward gives every fold's slice its own fold's gradient and nothing else. Adam and
  SGD act elementwise, so one optimizer over the stacked leaves is exactly one optimizer per
  fold: every fold takes a step at every step, so their step counts agree too.
* **BatchNorm**: the buffers enter ``vmap`` batched, so batch statistics are per fold and the
  running statistics update in place on each fold's own slice.
* **Data**: one generator per fold (seeded as ``train_fold`` seeds its own) draws that fold's
  batches from its own training indices and its own augmentation; inputs are normalised
  with the mean and std of the fold's own training samples (computed on the device). The
  dataset sits on the device once; each step gathers ``F x B`` samples from it. An epoch's
  indices and augmentation are drawn ahead on the host, in the same order per fold, and sent
  in one non-blocking copy, so no step waits for the host (:class:`_EpochPlan`).
* **Dropout** (``nn.Dropout``, ``nn.Dropout2d``, torchvision's ``StochasticDepth``): the
  modules are swapped for ones that multiply by a mask drawn *outside* ``vmap``, per fold,
  from a generator that continues the stream ``train_fold``'s dropout draws from (in the
  memory order torch fills it in). ``vmap`` runs with ``randomness="error"``, so a random op
  this module does not know is refused instead of silently drawing one stream for the whole
  group (``randomness="different"`` would make a fold's masks depend on its group).

So what a fold trains on does not depend on which folds share its group, and a group of one
on the CPU, on a schedule the sequential engine also takes, reproduces ``train_fold`` to
float rounding (tests/training/test_stacked.py checks both, with MEGANet among others).
Rounding itself differs between a grouped and a lone kernel, and training can amplify it:
networks whose gradients are ill-conditioned in float32 (ResNet-50 or EfficientNet at small
inputs: ``train_fold`` alone differs by 1e-3 to 1e-1 in probabilities between 1 and 2 CPU
threads) then end measurably apart, so compare engines over seeds, not fold by fold. A
resumed run regroups only unfinished folds, in protocol order; with the same group size,
once a whole group was recorded, that gives the groups (and numbers) of an uninterrupted run.

**Schedule** (:class:`StackSchedule`): ``vmap`` needs one batch size for every fold. On
the *median* fold of the run (``n`` training samples) the sequential engine takes
``S = ceil(n / batch_size)`` steps per epoch (less a last batch of one, which it skips), all
of ``batch_size`` but the last. The stacked engine takes the same ``S`` steps per epoch,
each of the sequential engine's *mean* batch, ``B = round(trained / S)`` (at most
``batch_size`` and the smallest training set): the same number of optimizer steps, which
sets the length of Adam's training, and the same samples per epoch to within ``S / 2``
(composite LOSO, batch 32: 14 steps of 31 = 434 against 436 in 13 x 32 + 20). Each fold
streams its own successive random permutations of its training indices and takes the next
``B`` at every step, so a batch may span two permutations, where the sequential engine
walks exactly one per epoch; a fold smaller or larger than the median sees a few samples
more or fewer per epoch than it would alone. The plan comes from every fold of the run
(finished ones included), so a fold's schedule does not change on resume. When the
training sets are multiples of ``batch_size`` (or all equal and below it), both engines
take the very same batches.

**Early stopping** (``val_fraction > 0``) works per fold: each fold validates on subjects
carved from its own training side, as ``train_fold`` does; a fold that runs out of patience
keeps its best weights and its history ends there, while the group trains on until every
fold has stopped (a stopped fold's later steps are discarded, so its result is the same as
if it had left the group).

**Memory**: without ``folds_per_group`` a group holds as many folds as a heuristic
estimate fits in ``memory_fraction`` of the free memory (:func:`fold_memory_bytes`). A group
that still runs out of memory (``torch.OutOfMemoryError``) is dropped, the allocator's cache
freed, and its folds retried in groups of half the size, with a warning; nothing of the
dropped group was recorded, and a fold trains the same in any group, so only time is lost.
A fold that does not fit alone is an error that names it.

**Devices**: on CUDA the step runs under bf16 autocast, the gathered batch is laid out so
that the grouped convolutions ``vmap`` makes read channels-last memory, and
``StackedOptions(compile=True)`` wraps the step in :func:`torch.compile`. That CUDA path is
written but UNMEASURED (no GPU was available when it was written): its speed, its memory
estimate and whether ``vmap`` keeps the fused attention kernels there are still to be
checked with ``benchmarks/gpu_check.sh`` (the CUDA tests, then ``benchmarks/loso_gpu.py``).
(PyTorch has ``vmap`` rules for CUDA's flash, memory-efficient and cuDNN attention kernels.) On the CPU the flash-attention kernel has no
``vmap`` rule, so MEGANet's self-attention runs once per fold there (correct, not faster).
On a 2-core CPU the stacked engine measured slower than the sequential one (STSTNet on a
composite-sized LOSO: 0.7x; MEGANet at 48 px: 0.8x; ``compile=True`` made STSTNet's
5-epoch LOSO slower still, 62 s against 47 s, compilation included): the work there is
bound by arithmetic and memory, not by launches, ``vmap``'s batching rules add copies
(BatchNorm with per-fold affine weights, pooling), and grouped convolutions with a few
channels per group run slower than plain ones. ``engine="auto"`` therefore stays
sequential on the CPU, and on CUDA too until the GPU check has measured it there
(:data:`AUTO_ENGINE`).
"""

from __future__ import annotations

import gc
import math
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from mesti.errors import MestiError
from mesti.protocols.splits import Fold
from mesti.training.augment import flip_rotate_theta, warp
from mesti.training.config import TrainConfig
from mesti.training.engine import (
    EpochCallback,
    FoldResult,
    _normalizer,
    _validation_split,
    create_optimizer,
    fit_input,
    fold_seed,
    resolve_device,
)
from mesti.training.losses import create_loss
from mesti.training.samples import SampleSet

ENGINES = ("auto", "sequential", "stacked")

#: ``finished(fold)``: the stored result of a fold that need not train again, or None.
FinishedLookup = Callable[[Fold], FoldResult | None]
#: ``record(fold, result, model)``: store one fold as soon as its group ends; ``model()``
#: rebuilds that fold's trained network (only called for checkpoints).
FoldRecorder = Callable[[Fold, FoldResult, Callable[[], nn.Module]], None]
FoldStartCallback = Callable[[str, int, int], None]


#: What ``--engine auto`` runs on each device type. The CPU keeps the sequential engine, where
#: the stacked one measured slower. CUDA keeps it too until ``benchmarks/gpu_check.sh`` has
#: passed on a GPU and its figures are in the README: the stacked CUDA path (vmap, bf16,
#: channels-last) has never run there, and a default should be the path that has.
AUTO_ENGINE = {"cpu": "sequential", "cuda": "sequential"}


def resolve_engine(engine: str, device: str) -> str:
    """The engine to run: ``auto`` becomes :data:`AUTO_ENGINE` for the device's type
    (``sequential`` everywhere for now; ``--engine stacked`` asks for the stacked one)."""
    if engine not in ENGINES:
        raise MestiError("--engine", f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "auto":
        return AUTO_ENGINE.get(resolve_device(device).type, "sequential")
    return engine


@dataclass(frozen=True)
class StackedOptions:
    """How the stacked engine uses the machine. None of it changes what a fold trains on,
    only float rounding, so none of it is part of a run's configuration.

    Args:
        folds_per_group: folds trained together; ``None`` fits as many as the memory
            budget allows (a heuristic estimate, see :func:`fold_memory_bytes`).
        memory_fraction: share of the free device memory (CUDA) or available RAM (CPU)
            the automatic group size may plan for.
        compile: wrap the training step in :func:`torch.compile` (off: unmeasured).
        interleave: lay each gathered ``F x B`` batch out as ``B x H x W x F x C`` so the
            grouped convolutions ``vmap`` makes read and write channels-last memory.
            ``None``: on CUDA when ``TrainConfig.channels_last`` (unmeasured); off on the
            CPU, where it measured slower (STSTNet at 28 px: 3.9 s against 2.5 s).
    """

    folds_per_group: int | None = None
    memory_fraction: float = 0.5
    compile: bool = False
    interleave: bool | None = None

    def __post_init__(self) -> None:
        if self.folds_per_group is not None and self.folds_per_group < 1:
            raise MestiError("--folds-per-group", f"{self.folds_per_group} must be at least 1")
        if not 0 < self.memory_fraction <= 1:
            raise MestiError("memory_fraction", f"{self.memory_fraction} must lie in (0, 1]")


def sequential_steps(n: int, batch_size: int) -> int:
    """Optimizer steps :func:`~mesti.training.engine.train_fold` takes in one epoch over
    ``n`` samples: ``ceil(n / batch_size)``, less a last batch of one, which it skips."""
    steps = math.ceil(n / batch_size)
    if n >= 2 and steps > 1 and n % batch_size == 1:
        steps -= 1
    return steps


@dataclass(frozen=True)
class StackSchedule:
    """One batch size and one epoch length (in steps) for every fold of a run."""

    batch_size: int
    steps_per_epoch: int

    @classmethod
    def for_sizes(cls, train_sizes: Sequence[int], batch_size: int) -> StackSchedule:
        """The sequential engine's steps per epoch and mean batch on the median fold."""
        sizes = sorted(int(n) for n in train_sizes)
        if not sizes:
            raise MestiError("stacked engine", "no folds to plan a schedule for")
        if sizes[0] < 2:
            raise MestiError("stacked engine", "every fold needs at least 2 training samples (BatchNorm cannot train on one)")
        n = sizes[len(sizes) // 2]
        steps = sequential_steps(n, batch_size)
        trained = n - 1 if n % batch_size == 1 and n > batch_size else n
        mean_batch = math.floor(trained / steps + 0.5)
        return cls(max(2, min(batch_size, sizes[0], mean_batch)), steps)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _split(samples: SampleSet, fold: Fold, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fold's training and validation indices, exactly as ``train_fold`` splits them."""
    train_idx, val_idx = np.asarray(fold.train), np.asarray([], dtype=int)
    if cfg.val_fraction > 0:
        train_idx, val_idx = _validation_split(samples, train_idx, cfg.val_fraction, fold_seed(cfg.seed, fold.name))
    return train_idx, val_idx


def plan_schedule(samples: SampleSet, folds: Sequence[Fold], cfg: TrainConfig) -> StackSchedule:
    """The schedule for a run: computed from *all* its folds, so it does not depend on how
    they are grouped or on which of them a resumed run has left to train."""
    return StackSchedule.for_sizes([len(_split(samples, f, cfg)[0]) for f in folds], cfg.batch_size)


class _FoldStream:
    """A fold's training indices as successive seeded permutations, read ``b`` at a time.

    The next permutation is drawn only when the remaining ones run short, so when the
    fold's size is a multiple of ``b`` the generator sees the draws ``train_fold`` makes, in
    the same order (permutation, then one augmentation per batch).
    """

    def __init__(self, indices: np.ndarray, generator: torch.Generator) -> None:
        self.indices = torch.as_tensor(indices, dtype=torch.long)
        self.generator = generator
        self.left = self.indices[:0]

    def take(self, b: int) -> Tensor:
        while len(self.left) < b:
            order = torch.randperm(len(self.indices), generator=self.generator)
            self.left = torch.cat([self.left, self.indices[order]])
        out, self.left = self.left[:b], self.left[b:]
        return out


def _draw_augmentation(b: int, gen: torch.Generator, flip: bool, rotations: Sequence[float]) -> tuple[Tensor, Tensor] | None:
    """The draws :func:`~mesti.training.augment.augment_batch` makes, in its order; None
    where it would return the batch unchanged. Kept in step with it by test_stacked."""
    angles = torch.zeros(b)
    if rotations and any(a != 0 for a in rotations):
        choice = torch.randint(len(rotations), (b,), generator=gen)
        angles = torch.tensor([float(r) for r in rotations])[choice]
    sign = torch.ones(b)
    if flip:
        sign = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    if not flip and bool((angles == 0).all()):
        return None
    return angles, sign


@dataclass
class _EpochPlan:
    """One epoch of a group, drawn ahead on the CPU: every step's sample indices and
    augmentation for every fold, each fold from its own generator in the order the step
    loop used to draw them (its indices, then its augmentation, step by step).

    Sent to the device in one pinned, non-blocking copy per epoch, so no step copies from the
    host: a blocking copy waits for the device to finish the step before, and with it every
    kernel launch of the next step would wait too.
    """

    idx: Tensor  # steps x F x B
    theta: Tensor | None  # steps x FB x 2 x 3 flip-and-rotate matrices; None: nothing to augment all epoch
    keep: Tensor | None  # steps x F x 1 x 1 x 1: True where a fold's draws leave its batch unchanged
    any_keep: list[bool]  # per step, known on the host: some fold keeps its batch
    all_keep: list[bool]  # per step: every fold does (no warp at all)


def _plan_epoch(members: Sequence[_Member], steps: int, b: int, cfg: TrainConfig, device: torch.device) -> _EpochPlan:
    f = len(members)
    idx = torch.empty(steps, f, b, dtype=torch.long)
    theta = torch.empty(steps, f * b, 2, 3)
    keep = torch.empty(steps, f, dtype=torch.bool)
    for s in range(steps):
        for k, m in enumerate(members):
            idx[s, k] = m.stream.take(b)
        draws = [_draw_augmentation(b, m.gen, cfg.flip, cfg.rotations) for m in members]
        keep[s] = torch.tensor([d is None for d in draws])
        angles = torch.cat([torch.zeros(b) if d is None else d[0] for d in draws])
        sign = torch.cat([torch.ones(b) if d is None else d[1] for d in draws])
        theta[s] = flip_rotate_theta(angles, sign)
    any_keep, all_keep = keep.any(dim=1).tolist(), keep.all(dim=1).tolist()
    warps = not all(all_keep)
    return _EpochPlan(_to_device(idx, device), _to_device(theta, device) if warps else None,
                      _to_device(keep.view(steps, f, 1, 1, 1), device) if warps else None, any_keep, all_keep)


def _to_device(t: Tensor, device: torch.device) -> Tensor:
    """A copy that does not make the host wait for the device (pinned, non-blocking)."""
    if device.type != "cuda":
        return t
    return t.pin_memory().to(device, non_blocking=True)


def _augment(x: Tensor, plan: _EpochPlan, step: int) -> Tensor:
    """Flip and rotate ``F x B`` images in one ``grid_sample`` (augment_batch's transform);
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


def _interleave(x: Tensor) -> Tensor:
    """``F x B x C x H x W`` stored as ``B x H x W x F x C``: vmap's grouped convolutions
    fold F into the channels, which this makes a channels-last ``B x FC x H x W`` view."""
    return x.permute(1, 3, 4, 0, 2).contiguous().permute(3, 0, 4, 1, 2)


# --- dropout with per-fold masks -------------------------------------------------------


@dataclass
class _Noise:
    """One dropout-like module of the network: what it draws and the input it sees."""

    name: str
    kind: str  # "dropout", "dropout2d" or "stochastic_depth"
    p: float
    mode: str = "row"
    shape: tuple[int, ...] = ()  # one sample's input shape
    dtype: torch.dtype = torch.float32
    fill_order: tuple[int, ...] = ()  # the input's dims, outermost in memory first (dropout only)


class _FoldNoise(nn.Module):
    """Stands in for a dropout-like module: multiplies by ``mask``, drawn per fold outside
    ``vmap`` and handed in through :func:`~torch.func.functional_call`."""

    def __init__(self, kind: str, p: float) -> None:
        super().__init__()
        self.kind, self.p = kind, p
        self.register_buffer("mask", torch.empty(0), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.kind != "stochastic_depth" and self.p == 1.0:  # torch's dropout: zeros, no draw
            return x * torch.zeros((), dtype=x.dtype, device=x.device)
        return x * self.mask


def _noise_kind(module: nn.Module) -> tuple[str, float, str] | None:
    if type(module) is nn.Dropout:
        return "dropout", float(module.p), "row"
    if type(module) is nn.Dropout2d:
        return "dropout2d", float(module.p), "row"
    if type(module).__name__ == "StochasticDepth" and type(module).__module__.startswith("torchvision"):
        return "stochastic_depth", float(module.p), str(module.mode)  # type: ignore[attr-defined]
    return None


def _swap_noise_modules(model: nn.Module) -> dict[str, _Noise]:
    """Replace every dropout-like module of ``model`` by a :class:`_FoldNoise`."""
    found: dict[str, _Noise] = {}
    for name, module in list(model.named_modules()):
        kind = _noise_kind(module)
        if kind is None:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _FoldNoise(kind[0], kind[1]))
        found[name] = _Noise(name, *kind)
    return found


def _mask_shape(noise: _Noise, b: int) -> tuple[int, ...]:
    """The noise tensor torch draws for a batch of ``b``: all of the input for dropout,
    one value per channel for dropout2d, per sample (or per batch) for stochastic depth."""
    shape = (b, *noise.shape)
    if noise.kind == "dropout2d":
        return (b, noise.shape[0], *([1] * (len(noise.shape) - 1)))
    if noise.kind == "stochastic_depth":
        return (b, *([1] * len(noise.shape))) if noise.mode == "row" else (1,) * len(shape)
    return shape


def _fill_order(t: Tensor) -> tuple[int, ...]:
    """The dims of ``t`` from outermost to innermost in memory, as ``torch.empty_like``
    would lay out its copy (contiguous unless ``t`` is dense in another order)."""
    natural = tuple(range(t.ndim))
    if t.is_contiguous():
        return natural
    order = tuple(sorted(natural, key=lambda d: (-t.stride(d), d)))
    expected = 1
    for d in reversed(order):
        if t.size(d) != 1 and t.stride(d) != expected:
            return natural
        expected *= t.size(d)
    return order


def _draw_masks(noises: Sequence[_Noise], gens: Sequence[torch.Generator], b: int, device: torch.device) -> dict[str, Tensor]:
    """Each fold's masks for one step from its own generator, in the order its forward
    calls the modules (the order torch's dropout draws in), stacked along the fold axis.

    Torch's dropout fills a noise tensor laid out like its input (``empty_like``), so a mask
    for a channels-last input is drawn in that memory order and permuted back: the same
    values land on the same elements as in ``train_fold`` on the CPU.
    """
    masks: dict[str, Tensor] = {}
    for noise in noises:
        if noise.p == 0.0 or (noise.kind != "stochastic_depth" and noise.p == 1.0):
            continue
        keep = 1.0 - noise.p
        shape = _mask_shape(noise, b)
        order = noise.fill_order if noise.kind == "dropout" and noise.fill_order else tuple(range(len(shape)))
        buf = torch.empty((len(gens), *(shape[d] for d in order)), dtype=noise.dtype, device=device)
        for f, gen in enumerate(gens):
            buf[f].bernoulli_(keep, generator=gen)
        if keep > 0:
            buf.div_(keep)
        masks[f"{noise.name}.mask"] = buf.permute(0, *(1 + order.index(d) for d in range(len(shape))))
    return masks


def _noise_generator(seed: int, device: torch.device) -> torch.Generator:
    """On the CPU: a copy of the global generator right after the fold's model was built,
    i.e. the stream ``train_fold``'s dropout draws from. On CUDA torch's fused dropout
    kernel draws differently anyway, so the fold seed starts a device generator."""
    if device.type == "cpu":
        gen = torch.Generator()
        gen.set_state(torch.get_rng_state())
        return gen
    return torch.Generator(device=device).manual_seed(seed)


@torch.no_grad()
def _probe(model: nn.Module, x: Tensor, noises: dict[str, _Noise], autocast: Callable[[], AbstractContextManager[None]]) -> tuple[list[_Noise], int]:
    """One eval-mode forward of a small batch: the order and input shape of the dropout-like
    modules, and the bytes of every leaf module's output per sample (memory estimate)."""
    order: list[_Noise] = []
    act_bytes = 0

    def on_noise(name: str, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        noise = noises[name]
        if any(n is noise for n in order):
            raise MestiError("stacked engine", f"module {name} runs twice in one forward; use --engine sequential")
        noise.shape, noise.dtype, noise.fill_order = tuple(args[0].shape[1:]), args[0].dtype, _fill_order(args[0])
        order.append(noise)

    def on_leaf(module: nn.Module, args: tuple[object, ...], out: object) -> None:
        nonlocal act_bytes
        if isinstance(out, Tensor):
            act_bytes += out.numel() * out.element_size()

    handles = []
    for name, module in model.named_modules():
        if name in noises:
            handles.append(module.register_forward_pre_hook(partial(on_noise, name)))
        elif not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(on_leaf))
    was_training = model.training
    model.eval()
    try:
        with autocast():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    # a module the forward never calls is left out: it draws nothing, in torch either
    return order, act_bytes // max(len(x), 1)


def fold_memory_bytes(param_bytes: int, act_bytes_per_sample: int, batch_size: int) -> int:
    """A heuristic training footprint of one fold: parameters, gradients and two Adam
    moments, plus three times the leaf modules' activations (saved tensors, their
    gradients and workspace). Explicit ``folds_per_group`` overrides it."""
    return 4 * param_bytes + 3 * act_bytes_per_sample * batch_size


def _memory_budget(device: torch.device, fraction: float) -> int | None:
    """Free CUDA memory, or the kernel's MemAvailable, times ``fraction`` (None: unknown)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * fraction)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(int(line.split()[1]) * 1024 * fraction)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _autocast(device: torch.device, cfg: TrainConfig) -> Callable[[], AbstractContextManager[None]]:
    def autocast() -> AbstractContextManager[None]:
        if device.type == "cuda" and cfg.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    return autocast


# --- one group -------------------------------------------------------------------------


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


@torch.no_grad()
def _predict(base: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], k: int, x: Tensor,
             mean: Tensor, std: Tensor, batch: int, autocast: Callable[[], AbstractContextManager[None]]) -> Tensor:
    """Fold ``k``'s class probabilities for raw inputs ``x``, batch by batch, in eval mode."""
    base.eval()
    state = {n: t[k] for n, t in params.items()}, {n: t[k] for n, t in buffers.items()}
    out = []
    for s in range(0, x.shape[0], batch):
        xb = (x[s : s + batch] - mean) / std
        with autocast():
            out.append(functional_call(base, state, (xb,)).float().softmax(dim=1).cpu())
    return torch.cat(out)


@dataclass
class _Member:
    """One fold's own state in a group: its seed, indices, generators, normaliser, history."""

    fold: Fold
    seed: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    gen: torch.Generator
    noise_gen: torch.Generator
    stream: _FoldStream
    mean: Tensor
    std: Tensor
    history: dict[str, list[float]]
    best: dict[str, Tensor] | None = None
    best_val: float = float("inf")
    since_best: int = 0
    stopped: int | None = None


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
    on_epoch: EpochCallback | None = None,
) -> StackedGroup:
    """Train ``folds`` together and predict each fold's test samples with its own model.

    ``schedule`` defaults to the plan for ``folds`` alone; pass the run's plan
    (:func:`plan_schedule` over all folds) so a fold trains the same in any group.
    ``on_epoch`` gets the group's mean statistics over the folds still training. Each
    result's ``seconds`` is the group's wall time divided by its number of folds.
    """
    start = time.perf_counter()
    options = options or StackedOptions()
    if not folds:
        raise MestiError("stacked engine", "a group needs at least one fold")
    device = resolve_device(cfg.device)
    use_cuda = device.type == "cuda"
    autocast = _autocast(device, cfg)
    schedule = schedule or plan_schedule(samples, folds, cfg)
    b = schedule.batch_size
    x_raw = fit_input(samples.images, input_size, in_chans)
    x_all = x_raw.to(device)  # once for the group; each fold's normaliser is computed there too
    y_all = samples.labels.to(device)

    members: list[_Member] = []
    models: list[nn.Module] = []
    for fold in folds:
        seed = fold_seed(cfg.seed, fold.name)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        models.append(build_model())
        noise_gen = _noise_generator(seed, device)
        train_idx, val_idx = _split(samples, fold, cfg)
        if len(train_idx) < b:
            raise MestiError(f"fold {fold.name}", f"{len(train_idx)} training samples, fewer than the schedule's batch of {b}")
        mean, std = _normalizer(x_all[torch.as_tensor(train_idx, device=device)], cfg.normalize)
        members.append(_Member(fold, seed, train_idx, val_idx, gen, noise_gen, _FoldStream(train_idx, gen),
                               mean.to(device), std.to(device), {"epoch": [], "train_loss": [], "train_acc": []}))

    stacked_params, stacked_buffers = stack_module_state(models)
    params = {n: t.detach().to(device).requires_grad_(t.requires_grad) for n, t in stacked_params.items()}
    buffers = {n: t.to(device) for n, t in stacked_buffers.items()}
    base = models[0]  # the structure; its own tensors are never read (functional_call replaces them all)
    del models, stacked_params, stacked_buffers
    noises = _swap_noise_modules(base)
    base.to(device)
    order, _ = _probe(base, ((x_all[:2] - members[0].mean) / members[0].std), noises, autocast)

    mean = torch.stack([m.mean for m in members])  # F x 1 x C x 1 x 1
    std = torch.stack([m.std for m in members])
    loss_fn = create_loss(cfg.loss, cfg.focal_gamma).to(device)

    def fold_step(p: dict[str, Tensor], bufs: dict[str, Tensor], masks: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        logits = functional_call(base, (p, bufs, masks), (x,))
        return loss_fn(logits.float(), y), logits.argmax(dim=1)

    step: Callable[..., tuple[Tensor, Tensor]] = vmap(fold_step, randomness="error")
    if options.compile:
        step = torch.compile(step)
    interleave = options.interleave if options.interleave is not None else (use_cuda and cfg.channels_last)

    opt = create_optimizer([t for t in params.values() if t.requires_grad], cfg)

    validating = [m for m in members if len(m.val_idx)]
    for epoch in range(1, cfg.epochs + 1):
        base.train()
        total = torch.zeros(len(members), dtype=torch.float64, device=device)
        correct = torch.zeros(len(members), dtype=torch.long, device=device)
        plan = _plan_epoch(members, schedule.steps_per_epoch, b, cfg, device)
        for i in range(schedule.steps_per_epoch):
            idx = plan.idx[i]
            masks = _draw_masks(order, [m.noise_gen for m in members], b, device)
            x = _augment((x_all[idx] - mean) / std, plan, i)
            if interleave:
                x = _interleave(x)
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
        epoch_loss, epoch_acc = (total / seen).tolist(), (correct.double() / seen).tolist()
        active = [k for k, m in enumerate(members) if m.stopped is None]
        for k in active:
            m = members[k]
            m.history["epoch"].append(epoch)
            m.history["train_loss"].append(epoch_loss[k])
            m.history["train_acc"].append(epoch_acc[k])
            if len(m.val_idx):
                _validate(base, params, buffers, k, m, x_all, y_all, cfg, autocast, epoch)
        if on_epoch is not None and active:
            keys = dict.fromkeys(key for k in active for key in members[k].history if key != "epoch")
            stats = {key: float(np.mean([members[k].history[key][-1] for k in active if key in members[k].history]))
                     for key in keys}
            on_epoch(epoch, cfg.epochs, stats)
        if validating and all(m.stopped is not None for m in members):
            break

    with torch.no_grad():  # folds chosen on validation subjects (training side only) get their best weights back
        for k, m in enumerate(members):
            if m.best is not None:
                for n, t in {**params, **buffers}.items():
                    t[k].copy_(m.best[n])
    seconds = (time.perf_counter() - start) / len(members)
    results = []
    for k, m in enumerate(members):
        test = np.asarray(m.fold.test)
        probs = _predict(base, params, buffers, k, x_all[test], m.mean, m.std, cfg.batch_size, autocast)
        results.append(FoldResult(
            name=m.fold.name, test_index=[int(i) for i in m.fold.test], probs=probs.tolist(), history=m.history,
            seed=m.seed, seconds=seconds, stopped_epoch=m.stopped,
            norm={"mean": m.mean.flatten().tolist(), "std": m.std.flatten().tolist()},
        ))
    return StackedGroup(results, {n: t.detach() for n, t in params.items()}, buffers, build_model)


def _validate(base: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], k: int, m: _Member, x_all: Tensor,
              y_all: Tensor, cfg: TrainConfig, autocast: Callable[[], AbstractContextManager[None]], epoch: int) -> None:
    """``train_fold``'s early-stopping bookkeeping for fold ``k`` after an epoch."""
    val = np.asarray(m.val_idx)
    vp = _predict(base, params, buffers, k, x_all[val], m.mean, m.std, cfg.batch_size, autocast)
    vy = y_all[val].cpu()
    val_loss = float(F.nll_loss(vp.clamp(min=1e-8).log(), vy))
    m.history.setdefault("val_loss", []).append(val_loss)
    m.history.setdefault("val_acc", []).append(float((vp.argmax(1) == vy).float().mean()))
    if val_loss < m.best_val:
        m.best_val, m.since_best = val_loss, 0
        with torch.no_grad():
            m.best = {n: t[k].detach().clone() for n, t in {**params, **buffers}.items()}
    else:
        m.since_best += 1
    if m.since_best >= cfg.patience:
        m.stopped = epoch


# --- a whole run -----------------------------------------------------------------------


def auto_folds_per_group(
    samples: SampleSet,
    build_model: Callable[[], nn.Module],
    cfg: TrainConfig,
    schedule: StackSchedule,
    options: StackedOptions,
    input_size: tuple[int, int] | None = None,
    in_chans: int | None = None,
) -> int | None:
    """How many folds fit ``options.memory_fraction`` of the free memory (None: no limit
    known), from :func:`fold_memory_bytes` of one probe network."""
    device = resolve_device(cfg.device)
    budget = _memory_budget(device, options.memory_fraction)
    if budget is None:
        return None
    with torch.random.fork_rng(devices=[]):
        model = build_model().to(device)
    noises = _swap_noise_modules(model)
    x = fit_input(samples.images[:2], input_size, in_chans).to(device)
    _, act = _probe(model, x, noises, _autocast(device, cfg))
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return max(1, budget // fold_memory_bytes(param_bytes, act, schedule.batch_size))


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
    on_fold_start: FoldStartCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> list[FoldResult]:
    """Every fold of a run, in groups: finished folds are skipped, the unfinished ones are
    grouped in protocol order, and each group's folds are recorded as soon as it ends.

    ``on_fold_start(name, i, n)`` is called for a finished fold when it is skipped and for a
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
        if on_fold_start is not None:
            on_fold_start(fold.name, i, len(folds))
        results[fold.name] = done
    size = options.folds_per_group
    if size is None and pending:
        size = auto_folds_per_group(samples, build_model, cfg, schedule, options, input_size, in_chans)
    size = size or max(len(pending), 1)
    device = resolve_device(cfg.device)
    g = 0
    while g < len(pending):
        group = pending[g : g + size]
        if on_fold_start is not None:
            for i, fold in group:
                on_fold_start(fold.name, i, len(folds))
        try:
            trained = train_group(samples, [f for _, f in group], build_model, cfg, schedule=schedule, options=options,
                                  input_size=input_size, in_chans=in_chans, on_epoch=on_epoch)
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


def smaller_group(size: int, device: torch.device) -> int:
    """After a group of ``size`` folds ran out of memory: free the allocator's cache, warn,
    and return half the size. The memory estimate is a heuristic, so this is what makes the
    automatic group size safe; a fold trains the same in any group, so nothing is lost but
    the group's time (whatever folds it had finished were never recorded)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    half = max(1, size // 2)
    warnings.warn(f"stacked engine: {size} folds at once ran out of memory on {device}; retrying with {half} "
                  "per group (set --folds-per-group to skip this)", RuntimeWarning, stacklevel=2)
    return half
