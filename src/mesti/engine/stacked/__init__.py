"""Train many folds at once: one network per fold, stacked with ``torch.func`` under one ``vmap``.

A LOSO study is many small trainings (68 folds for the MEGC 2019 composite). Run one after
another, an accelerator mostly waits on Python and small kernels. Here a *group* of folds
trains in one step: the folds' parameters and buffers are stacked along a leading fold
dimension (:func:`torch.func.stack_module_state`) and :func:`torch.func.functional_call`
runs under :func:`torch.func.vmap` over that dimension, so every layer runs once for the
whole group (a convolution becomes a grouped convolution).

Each fold stays its own training, through the same fold layer as the sequential engine
(:class:`~mesti.engine.folds.FoldRun`: seed, generator, validation subjects, normaliser,
early stopping, prediction; :func:`~mesti.engine.augment.draw_augment`: augmentation
draws). What is the stacked engine's own lives in this package's modules: ``options``
(engine choice, group options), ``schedule`` (one batch schedule, epochs drawn ahead),
``noise`` (per-fold dropout masks), ``group`` (stacking and the ``vmap`` step), ``memory``
(group size, halving on out-of-memory) and ``run`` (groups over a run, resume).

* **Model**: built as :func:`~mesti.engine.sequential.train_fold` builds it,
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
  in one non-blocking copy, so no step waits for the host (:class:`~mesti.engine.stacked.schedule.EpochPlan`).
* **Dropout** (``nn.Dropout``, ``nn.Dropout2d``, torchvision's ``StochasticDepth``): the
  modules are swapped for ones that multiply by a mask drawn *outside* ``vmap``, per fold,
  from a generator that continues the stream ``train_fold``'s dropout draws from (in the
  memory order torch fills it in). ``vmap`` runs with ``randomness="error"``, so a random op
  this module does not know is refused instead of silently drawing one stream for the whole
  group (``randomness="different"`` would make a fold's masks depend on its group).

So what a fold trains on does not depend on which folds share its group, and a group of one
on the CPU, on a schedule the sequential engine also takes, reproduces ``train_fold`` to
float rounding (tests/engine/test_stacked.py checks both, with MEGANet among others).
Rounding itself differs between a grouped and a lone kernel, and training can amplify it:
networks whose gradients are ill-conditioned in float32 (ResNet-50 or EfficientNet at small
inputs: ``train_fold`` alone differs by 1e-3 to 1e-1 in probabilities between 1 and 2 CPU
threads) then end measurably apart, so compare engines over seeds, not fold by fold. A
resumed run regroups only unfinished folds, in protocol order; with the same group size,
once a whole group was recorded, that gives the groups (and numbers) of an uninterrupted run.

**Schedule** (:class:`~mesti.engine.stacked.schedule.StackSchedule`): ``vmap`` needs one batch size for every fold. On
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
estimate fits in ``memory_fraction`` of the free memory (:func:`~mesti.engine.stacked.memory.fold_memory_bytes`). A group
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
(PyTorch has ``vmap`` rules for CUDA's flash,
memory-efficient and cuDNN attention kernels.) On the CPU the flash-attention kernel has no
``vmap`` rule, so MEGANet's self-attention runs once per fold there (correct, not faster).
On a 2-core CPU the stacked engine measured slower than the sequential one (STSTNet on a
composite-sized LOSO: 0.7x; MEGANet at 48 px: 0.8x; ``compile=True`` made STSTNet's
5-epoch LOSO slower still, 62 s against 47 s, compilation included): the work there is
bound by arithmetic and memory, not by launches, ``vmap``'s batching rules add copies
(BatchNorm with per-fold affine weights, pooling), and grouped convolutions with a few
channels per group run slower than plain ones. ``engine="auto"`` therefore stays
sequential on the CPU, and on CUDA too until the GPU check has measured it there
(:data:`~mesti.engine.stacked.options.AUTO_ENGINE`).
"""

from mesti.engine.stacked.group import StackedGroup, train_group
from mesti.engine.stacked.memory import auto_folds_per_group, fold_memory_bytes, smaller_group
from mesti.engine.stacked.options import AUTO_ENGINE, ENGINES, StackedOptions, resolve_engine
from mesti.engine.stacked.run import run_stacked
from mesti.engine.stacked.schedule import StackSchedule, plan_schedule, sequential_steps

__all__ = [
    "AUTO_ENGINE",
    "ENGINES",
    "StackSchedule",
    "StackedGroup",
    "StackedOptions",
    "auto_folds_per_group",
    "fold_memory_bytes",
    "plan_schedule",
    "resolve_engine",
    "run_stacked",
    "sequential_steps",
    "smaller_group",
    "train_group",
]
