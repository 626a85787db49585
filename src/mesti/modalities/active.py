"""The Active image of OrigiNet (Verma et al., IJCNN 2020): a grey clip as one sum of differences.

OrigiNet's released code adds up ``I_j - I_k`` over frame pairs ``k < j`` of the whole clip on
grey frames. With every pair (``variant="intended"``) each frame gets the simplified
rank-pooling weight ``2t - T - 1`` (1-based ``t``); the released loop skips the frame just
before ``j`` (``variant="released"``), which changes only the two end frames to ``-(T - 2)``
and ``T - 2``. The release reads each frame as 8 bits and converts it to grey with OpenCV,
which rounds the grey image to 8 bits: ``variant="released"`` does the same (OpenCV's own
fixed-point formula, in both paths); ``"intended"`` keeps the luma unrounded. The release
writes the sum to an 8-bit image without rescaling, so values saturate at 0 and 255:
``scale="clip"`` reproduces that; the default is the per-image min-max of every other
rank-pooling modality. Output: three equal channels, as OrigiNet reads its single-channel
image back with OpenCV's default flags.
"""

from __future__ import annotations

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.errors import MestiError
from mesti.modalities.batch import ClipBatch
from mesti.modalities.rank_pooling import _table_batch_weights, _weighted_sum, simplified_rank_weights
from mesti.modalities.scaling import SCALE_MODES, scale_numpy, scale_torch

VARIANTS = ("intended", "released")
#: ITU-R BT.601 luma, the weights of OpenCV's RGB -> grey conversion (kept unrounded).
LUMA = (0.299, 0.587, 0.114)
#: OpenCV's 8-bit RGB -> grey: ``(9798 R + 19235 G + 3735 B + 2**14) >> 15``, the luma in 15-bit
#: fixed point, rounded (equal to ``cv2.cvtColor(..., COLOR_RGB2GRAY)`` on every 8-bit colour).
LUMA_FIXED = (9798, 19235, 3735)
_FIXED_SHIFT = 15


def released_active_weights(length: int) -> np.ndarray:
    """Weights of the released loop ``sum_j sum_{k <= j-2} (I_j - I_k)``, 1-based frame order.

    0-based frame ``m`` is added once for each ``k <= m - 2`` and subtracted once for each
    ``j >= m + 2``: ``w_m = max(m - 1, 0) - max(T - m - 2, 0)``.
    """
    m = np.arange(length, dtype=np.int64)
    return np.maximum(m - 1, 0) - np.maximum(length - m - 2, 0)


def active_weights(length: int, variant: str = "intended") -> np.ndarray:
    """Per-frame weights of the Active image for a clip of ``length`` frames."""
    if variant == "intended":
        return simplified_rank_weights(length)
    if variant == "released":
        return released_active_weights(length)
    raise MestiError("active_image", f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")


def _check_scale(scale: str) -> None:
    if scale != "clip" and scale not in SCALE_MODES:
        raise MestiError("--scale", f"unknown scaling {scale!r} for active_image; choose clip or one of {', '.join(SCALE_MODES)}")


def _grey_numpy(window: np.ndarray, variant: str) -> np.ndarray:
    if variant == "released":  # frames read as 8 bits, grey rounded to 8 bits as OpenCV does
        eight = np.clip(np.rint(window), 0, 255).astype(np.int64)
        if eight.shape[-1] == 1:
            return eight.astype(np.float32)
        fixed = eight @ np.asarray(LUMA_FIXED, dtype=np.int64) + (1 << (_FIXED_SHIFT - 1))
        return (fixed >> _FIXED_SHIFT).astype(np.float32)[..., None]
    if window.shape[-1] == 1:
        return window.astype(np.float32)
    return np.tensordot(window.astype(np.float32), np.asarray(LUMA, dtype=np.float32), axes=([-1], [0]))[..., None]


def _grey_torch(frames: torch.Tensor, variant: str) -> torch.Tensor:
    """``B x T x 1 x H x W`` grey frames; the twin of :func:`_grey_numpy`."""
    if variant == "released":
        eight = frames.round().clamp(0, 255).to(torch.int64)
        if eight.shape[2] == 1:
            return eight.to(frames.dtype)
        weights = torch.tensor(LUMA_FIXED, dtype=torch.int64, device=frames.device).view(1, 1, 3, 1, 1)
        fixed = (eight * weights).sum(dim=2, keepdim=True) + (1 << (_FIXED_SHIFT - 1))
        return (fixed >> _FIXED_SHIFT).to(frames.dtype)
    if frames.shape[2] == 3:
        luma = torch.tensor(LUMA, dtype=frames.dtype, device=frames.device).view(1, 1, 3, 1, 1)
        return (frames * luma).sum(dim=2, keepdim=True)
    return frames


def active_image_numpy(clip: Clip, variant: str = "intended", scale: str = "minmax") -> np.ndarray:
    """Active image of the onset..offset window as ``H x W x 3`` float32 (three equal channels)."""
    _check_scale(scale)
    w = active_weights(clip.length, variant)
    acc = _weighted_sum(_grey_numpy(clip.window(), variant), w)
    if scale == "clip":
        acc = np.clip(acc, 0.0, 255.0)
    elif scale != "raw":
        acc = scale_numpy(acc, scale, ranges=float(np.clip(w, 0, None).sum()) * 16.0)
    return np.repeat(acc.astype(np.float32), 3, axis=-1)


def active_image_torch(batch: ClipBatch, variant: str = "intended", scale: str = "minmax") -> torch.Tensor:
    """Active images of a batch as ``B x 3 x H x W`` float32; the twin of :func:`active_image_numpy`."""
    _check_scale(scale)
    w = _table_batch_weights(batch, lambda n: active_weights(n, variant))
    acc = torch.einsum("bt,btchw->bchw", w, _grey_torch(batch.frames, variant))
    if scale == "clip":
        acc = acc.clamp(0.0, 255.0)
    elif scale != "raw":
        acc = torch.cat([scale_torch(acc[i : i + 1], scale, ranges=float(w[i].clamp(min=0).sum()) * 16.0)
                         for i in range(acc.shape[0])])
    return acc.repeat(1, 3, 1, 1)
