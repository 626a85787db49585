"""What the CUDA tests use, imported in one place (the engines' modules may move), and their marks.

Every test module here sets ``pytestmark = CUDA``: marked ``cuda`` (``pytest -m cuda`` runs
them; ``benchmarks/gpu_check.sh`` does) and skipped, with the reason, where no CUDA device is.
"""

from __future__ import annotations

import pytest
import torch

from mesti.clips import load_clip
from mesti.modalities import encode, encode_batch, list_modalities
from mesti.models import create_model
from mesti.protocols import LeaveOneSubjectOut
from mesti.protocols.splits import Fold
from mesti.engine.config import TrainConfig
from mesti.engine.sequential import train_fold
from mesti.engine.folds import FoldResult
from mesti.engine.samples import SampleSet
from mesti.engine.stacked import StackedOptions, plan_schedule, run_stacked, train_group
from tests.conftest import moving_clip
from tests.engine.toys import toy_samples

CUDA = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (torch.cuda.is_available() is False)"),
]

__all__ = [
    "CUDA", "FoldResult", "Fold", "SampleSet", "StackedOptions", "TrainConfig", "create_model", "encode", "encode_batch",
    "list_modalities", "load_clip", "loso", "moving_clip", "plan_schedule", "run_stacked", "toy_samples", "train_fold",
    "train_group",
]


def loso(samples: SampleSet) -> list[Fold]:
    return LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)
