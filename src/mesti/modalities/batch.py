"""A padded batch of clip windows for the torch encoders (CPU or CUDA)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mesti.clips.clip import Clip
from mesti.errors import MestiError


@dataclass(frozen=True)
class ClipBatch:
    """Onset..offset windows of several clips, zero padded to the longest.

    ``frames``: ``B x T x C x H x W`` float32 on 0..255; ``lengths``: frames per clip;
    ``apex``: 0-based apex position inside each window. Padded frames get weight 0 in every
    temporal pooling, so a batch gives the same images as one clip at a time.
    """

    frames: torch.Tensor
    lengths: torch.Tensor
    apex: torch.Tensor
    names: tuple[str, ...]

    @property
    def device(self) -> torch.device:
        return self.frames.device

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @classmethod
    def from_clips(cls, clips: Sequence[Clip], device: str | torch.device | None = None) -> ClipBatch:
        """Stack the windows of ``clips``; all must share frame size and channel count."""
        if not clips:
            raise MestiError("<batch>", "an empty batch")
        shape = clips[0].frames.shape[1:]
        for c in clips:
            if c.frames.shape[1:] != shape:
                raise MestiError(c.name, f"frame size {c.frames.shape[1:]} differs from the batch's {shape}")
        t_max = max(c.length for c in clips)
        h, w, ch = shape
        out = torch.zeros((len(clips), t_max, ch, h, w), dtype=torch.float32, device=device)
        for i, c in enumerate(clips):
            win = torch.from_numpy(np.ascontiguousarray(c.window())).to(device=out.device, dtype=torch.float32)
            out[i, : c.length] = win.permute(0, 3, 1, 2)
        lengths = torch.tensor([c.length for c in clips], dtype=torch.long, device=out.device)
        apex = torch.tensor([c.apex - c.onset for c in clips], dtype=torch.long, device=out.device)
        return cls(out, lengths, apex, tuple(c.name for c in clips))

    def frame_at(self, index: torch.Tensor) -> torch.Tensor:
        """``B x C x H x W``: for each clip the frame at its own window position ``index[b]``."""
        b = torch.arange(len(self), device=self.device)
        return self.frames[b, index.to(self.device)]
