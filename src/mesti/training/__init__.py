"""Training: one fold layer under the sequential and stacked engines, losses, augmentation, the experiment runner."""

from mesti.training.config import TrainConfig
from mesti.training.samples import SampleSet

__all__ = ["SampleSet", "TrainConfig"]
