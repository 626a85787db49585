"""Which engine trains a study's folds, and how the stacked one uses the machine."""

from __future__ import annotations

from dataclasses import dataclass

from mesti.errors import MestiError
from mesti.engine.folds import resolve_device

ENGINES = ("auto", "sequential", "stacked")


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
            budget allows (a heuristic estimate, see
            :func:`~mesti.engine.stacked.memory.fold_memory_bytes`).
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
