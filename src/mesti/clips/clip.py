"""The clip record every stage passes along: frames plus onset/apex/offset and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mesti.errors import MestiError


@dataclass(frozen=True, eq=False)
class Clip:
    """One micro-expression clip.

    ``frames`` is ``T x H x W x C`` (RGB, ``uint8`` in 0..255 or float on the same scale).
    ``onset``, ``apex`` and ``offset`` are 0-based positions into ``frames`` (not the frame
    numbers of a dataset's file names; adapters translate). Encoders use frames
    ``onset..offset`` inclusive. ``source`` says where the frames came from, and is what
    error messages name.
    """

    frames: np.ndarray
    onset: int
    apex: int
    offset: int
    fps: float = 200.0
    subject: str = ""
    label: str | None = None
    clip_id: str = ""
    dataset: str = ""
    source: str = "<array>"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def name(self) -> str:
        """The clip's name in messages: its dataset/subject/clip id, else its source."""
        parts = [p for p in (self.dataset, self.subject, self.clip_id) if p]
        return "/".join(parts) if parts else self.source

    @property
    def length(self) -> int:
        """Number of frames from onset to offset, inclusive."""
        return self.offset - self.onset + 1

    @property
    def apex_in_window(self) -> int:
        """1-based apex index ``a`` within the onset..offset window (the paper's notation, docs/method.md)."""
        return self.apex - self.onset + 1

    def window(self) -> np.ndarray:
        """Frames ``onset..offset`` inclusive, as a view."""
        return self.frames[self.onset : self.offset + 1]

    def with_frames(self, frames: np.ndarray) -> Clip:
        """The same clip with other frames of the same length (e.g. after face cropping)."""
        return replace(self, frames=frames)

    def validate(self) -> None:
        """Raise :class:`MestiError` naming the clip when it cannot be encoded."""
        f = self.frames
        if not isinstance(f, np.ndarray):
            raise MestiError(self.name, f"frames must be a numpy array, got {type(f).__name__}")
        if f.ndim == 3:  # T x H x W grayscale: add the channel axis.
            object.__setattr__(self, "frames", f[..., None])
            f = self.frames
        if f.ndim != 4:
            raise MestiError(self.name, f"frames must be T x H x W x C, got shape {f.shape}")
        if f.shape[-1] not in (1, 3):
            raise MestiError(self.name, f"frames must have 1 or 3 channels, got {f.shape[-1]}")
        if f.dtype != np.uint8 and not np.issubdtype(f.dtype, np.floating):
            raise MestiError(self.name, f"frames must be uint8 or float, got {f.dtype}")
        if f.dtype != np.uint8 and not np.isfinite(f).all():  # NaN would flow into every image, unseen
            bad = int(np.flatnonzero(~np.isfinite(f).reshape(f.shape[0], -1).all(axis=1))[0])
            raise MestiError(self.name, f"frame {bad} holds NaN or infinite values")
        n = f.shape[0]
        if n < 2:
            raise MestiError(self.name, f"a clip needs at least 2 frames, got {n}")
        for what, v in (("onset", self.onset), ("apex", self.apex), ("offset", self.offset)):
            if not 0 <= v < n:
                raise MestiError(self.name, f"{what} {v} is outside the {n} frames (0..{n - 1})")
        if self.onset > self.offset:
            raise MestiError(self.name, f"onset {self.onset} is after offset {self.offset}")
        if not self.onset <= self.apex <= self.offset:
            raise MestiError(
                self.name,
                f"apex {self.apex} is outside [onset, offset] = [{self.onset}, {self.offset}]",
            )
        if self.offset - self.onset + 1 < 2:
            raise MestiError(self.name, "onset..offset must span at least 2 frames")
