"""The training engine: one fold layer under the sequential and stacked engines, the
training config, losses, optimisers and augmentation. Studies and bundles drive it."""

from mesti.engine.config import TrainConfig
from mesti.engine.samples import SampleSet

__all__ = ["SampleSet", "TrainConfig"]
