"""Checking a device name before anything is written, so a typo or a missing GPU is one line."""

from __future__ import annotations

import torch

from mesti.errors import MestiError


def check_device(name: str, where: str = "--device") -> str:
    """Return ``name`` when it is ``auto`` or a device this machine has; else :class:`MestiError`.

    ``cuda:7`` on a machine with one GPU, ``cuda`` without CUDA and ``gpu`` are refused here,
    before a run folder is created, instead of as a torch traceback half-way through a run.
    """
    if name == "auto":
        return name
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise MestiError(where, f"{name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise MestiError(where, f"{name}: this machine has no CUDA device; use --device cpu or auto")
        if device.index is not None and device.index >= count:
            raise MestiError(where, f"{name}: no such device; this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise MestiError(where, f"{name}: MPS is not available on this machine")
    elif device.type != "cpu":
        raise MestiError(where, f"{name}: unsupported device type; use auto, cpu or cuda[:N]")
    return name
