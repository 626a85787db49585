"""Training: the fixed-schedule trainer, its loss and augmentation, and the experiment runner."""

from mesti.training.config import TrainConfig
from mesti.training.samples import SampleSet

__all__ = ["SampleSet", "TrainConfig"]
