"""Turning a signed float image into what a network or a person sees.

Three modes, the same in numpy (``H x W x C``) and torch (``B x C x H x W``):

- ``minmax``: per image, one min and max over all pixels (and channels unless
  ``per_channel``), mapped to 0..255 float32. Dynamic-image practice; hides amplitude.
  A constant image maps to all zeros.
- ``symmetric``: a fixed scale around 0, amplitude preserved: ``127.5 * (1 + x / r)``
  clipped to 0..255, where ``r`` is the value that reaches white. Non-negative channels
  (magnitude, strain) map ``0..r`` to ``0..255`` instead.
- ``raw``: the float values unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from mesti.errors import MestiError

SCALE_MODES = ("minmax", "symmetric", "raw")


def check_mode(mode: str) -> str:
    if mode not in SCALE_MODES:
        raise MestiError("--scale", f"unknown scaling {mode!r}; choose one of {', '.join(SCALE_MODES)}")
    return mode


def check_range(name: str, value: float) -> float:
    """A symmetric-scale range must be a positive number: 0 divides by zero (NaN images), a
    negative one inverts the picture."""
    try:
        ok = math.isfinite(float(value)) and float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise MestiError(f"--{name.replace('_', '-')}", f"must be a positive number (the value that reaches full scale), got {value!r}")
    return float(value)


def scale_numpy(
    x: np.ndarray,
    mode: str,
    *,
    per_channel: bool = False,
    ranges: Sequence[float] | float = 1.0,
    nonnegative: Sequence[bool] | bool = False,
) -> np.ndarray:
    """Scale an ``H x W x C`` float image; returns float32 (0..255 unless ``raw``)."""
    check_mode(mode)
    x = np.asarray(x, dtype=np.float32)
    if mode == "raw":
        return x
    c = x.shape[-1]
    if mode == "minmax":
        axes = (0, 1) if per_channel else (0, 1, 2)
        lo = x.min(axis=axes, keepdims=True)
        hi = x.max(axis=axes, keepdims=True)
        span = hi - lo
        safe = np.where(span > 0, span, 1.0)
        return np.where(span > 0, (x - lo) * (255.0 / safe), 0.0).astype(np.float32)
    r = np.broadcast_to(np.asarray(ranges, dtype=np.float32), (c,))
    nn = np.broadcast_to(np.asarray(nonnegative, dtype=bool), (c,))
    out = np.where(nn, 255.0 * x / r, 127.5 * (1.0 + x / r))
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def scale_torch(
    x: torch.Tensor,
    mode: str,
    *,
    per_channel: bool = False,
    ranges: Sequence[float] | float = 1.0,
    nonnegative: Sequence[bool] | bool = False,
) -> torch.Tensor:
    """Scale a ``B x C x H x W`` float tensor; the batched twin of :func:`scale_numpy`."""
    check_mode(mode)
    x = x.float()
    if mode == "raw":
        return x
    c = x.shape[1]
    if mode == "minmax":
        dims = (2, 3) if per_channel else (1, 2, 3)
        lo = x.amin(dim=dims, keepdim=True)
        hi = x.amax(dim=dims, keepdim=True)
        span = hi - lo
        safe = torch.where(span > 0, span, torch.ones_like(span))
        return torch.where(span > 0, (x - lo) * (255.0 / safe), torch.zeros_like(x))
    r = torch.as_tensor(np.broadcast_to(np.asarray(ranges, dtype=np.float32), (c,)).copy(), device=x.device)
    nn = torch.as_tensor(np.broadcast_to(np.asarray(nonnegative, dtype=bool), (c,)).copy(), device=x.device)
    r = r.view(1, c, 1, 1)
    nn = nn.view(1, c, 1, 1)
    out = torch.where(nn, 255.0 * x / r, 127.5 * (1.0 + x / r))
    return out.clamp(0.0, 255.0)
