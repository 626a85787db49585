"""The Affective motion image (AffectiveNet, Verma et al., IEEE MultiMedia 2021): mesti's reading.

AffectiveNet's abstract describes its input as an image that "cumulates rapid and short-lived
variational information" of the clip "into a single response". The paper's own equation
could not be read in any source available to mesti (docs/method.md says where it looked)
and no code was released, so this module implements a reading of that sentence, named as
such everywhere it is offered: the change between consecutive frames, accumulated over the
onset..offset window,

    AMI = sum_{t=1}^{T-1} |I_{t+1} - I_t|     (per pixel, per channel, on 0..255 values)

Absolute values because the signed sum telescopes to ``I_T - I_1`` (the offset minus the
onset, close to zero for a micro-expression). A static clip gives zero; the image is
non-negative, so ``symmetric`` scaling maps ``0..symmetric_range`` grey levels of mean
change per frame step to ``0..255``.
"""

from __future__ import annotations

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.modalities.batch import ClipBatch
from mesti.modalities.rank_pooling import DEFAULT_SYMMETRIC_RANGE
from mesti.modalities.scaling import check_range, scale_numpy, scale_torch


def affective_motion_numpy(clip: Clip, scale: str = "minmax", symmetric_range: float = DEFAULT_SYMMETRIC_RANGE) -> np.ndarray:
    """Accumulated absolute frame-to-frame change of the window as ``H x W x C`` float32."""
    window = clip.window().astype(np.float32)
    acc = np.abs(np.diff(window, axis=0)).sum(axis=0) if len(window) > 1 else np.zeros_like(window[0])
    if scale == "symmetric":
        acc = acc / np.float32(max(clip.length - 1, 1))
    return scale_numpy(acc, scale, ranges=check_range("symmetric_range", symmetric_range), nonnegative=True)


def affective_motion_torch(batch: ClipBatch, scale: str = "minmax", symmetric_range: float = DEFAULT_SYMMETRIC_RANGE) -> torch.Tensor:
    """The same for a padded batch as ``B x C x H x W``: steps into padded frames weigh nothing."""
    frames = batch.frames
    steps = torch.arange(1, frames.shape[1], device=batch.device).unsqueeze(0)  # index of the later frame
    valid = (steps < batch.lengths.unsqueeze(1)).to(frames.dtype)  # B x (T-1)
    acc = torch.einsum("bt,btchw->bchw", valid, (frames[:, 1:] - frames[:, :-1]).abs())
    if scale == "symmetric":
        acc = acc / (batch.lengths - 1).clamp(min=1).to(acc.dtype).view(-1, 1, 1, 1)
    return scale_torch(acc, scale, ranges=check_range("symmetric_range", symmetric_range), nonnegative=True)
