"""The apex frame: the static baseline of the paper's Table I."""

from __future__ import annotations

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.modalities.batch import ClipBatch


def apex_numpy(clip: Clip) -> np.ndarray:
    """The apex frame as ``H x W x C`` float32 on 0..255 (pixel values unchanged)."""
    return clip.frames[clip.apex].astype(np.float32)


def apex_torch(batch: ClipBatch) -> torch.Tensor:
    """The apex frame of every clip as ``B x C x H x W`` float32 on 0..255."""
    return batch.frame_at(batch.apex).float()
