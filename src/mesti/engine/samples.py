"""The in-memory samples a study trains on: one encoded image per clip, with its identity.

Training reads nothing from disk: a fold selects rows of a :class:`SampleSet` (the
Lightning split: prepare once, set up per fold, train on tensors).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass

import numpy as np
import torch

from mesti.errors import MestiError


@dataclass(frozen=True)
class SampleSet:
    """``images``: N x C x H x W float32; ``labels``: class indices into ``class_names``."""

    images: torch.Tensor
    labels: torch.Tensor
    subjects: tuple[str, ...]
    datasets: tuple[str, ...]
    clip_ids: tuple[str, ...]
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.ndim != 4:
            raise MestiError("samples", f"images must be N x C x H x W, got {tuple(self.images.shape)}")
        for name in ("labels", "subjects", "datasets", "clip_ids"):
            if len(getattr(self, name)) != n:
                raise MestiError("samples", f"{name} has {len(getattr(self, name))} entries for {n} images")
        if n == 0:
            raise MestiError("samples", "no samples (nothing labelled under this class set?)")
        bad = (self.labels < 0) | (self.labels >= len(self.class_names))
        if bool(bad.any()):
            raise MestiError("samples", f"labels outside 0..{len(self.class_names) - 1}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def keys(self) -> tuple[str, ...]:
        """``dataset/subject/clip`` per sample: the identity predictions are stored under."""
        return tuple(f"{d}/{s}/{c}" for d, s, c in zip(self.datasets, self.subjects, self.clip_ids, strict=True))

    @classmethod
    def from_arrays(
        cls,
        images: np.ndarray | torch.Tensor,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        subjects: Sequence[str],
        datasets: Sequence[str],
        clip_ids: Sequence[str],
        class_names: Sequence[str],
        channels_last: bool = False,
    ) -> SampleSet:
        """Build from arrays; ``channels_last`` for N x H x W x C numpy images."""
        x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images, dtype=torch.float32)
        if channels_last:
            x = x.permute(0, 3, 1, 2)
        return cls(
            images=x.contiguous(),
            labels=torch.as_tensor(np.asarray(labels), dtype=torch.long),
            subjects=tuple(str(s) for s in subjects),
            datasets=tuple(str(d) for d in datasets),
            clip_ids=tuple(str(c) for c in clip_ids),
            class_names=tuple(class_names),
        )

    def assert_finite(self) -> SampleSet:
        """``self``, or :class:`MestiError` naming the first sample with a NaN or infinite pixel:
        such an input trains to a NaN loss and still writes metrics."""
        finite = torch.isfinite(self.images).flatten(1).all(dim=1)
        if not bool(finite.all()):
            rows = [int(i) for i in torch.nonzero(~finite).flatten()]
            more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
            raise MestiError(self.keys[rows[0]], f"the input image holds NaN or infinite values; refused{more}: "
                             "rebuild it (delete its cache entry and re-run mesti prepare)")
        return self

    def fingerprints(self) -> tuple[str, ...]:
        """A digest of each sample's pixels: equal digests are the same input, whatever the names."""
        flat = self.images.detach().cpu().contiguous().reshape(len(self), -1).numpy()
        return tuple(hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in flat)

    def describe(self) -> str:
        counts = torch.bincount(self.labels, minlength=len(self.class_names)).tolist()
        per_class = ", ".join(f"{n} {c}" for c, n in zip(self.class_names, counts, strict=True))
        subjects = len(set(zip(self.datasets, self.subjects, strict=True)))
        return f"{len(self)} samples, {subjects} subjects ({per_class})"


@dataclass(frozen=True)
class InputRecord:
    """What produced a :class:`SampleSet`, as a run's ``config.yaml`` and a bundle record it:
    the dataset (name, root, classes, sheet, the adapter's issues), the modality and its
    options, the preprocessing, and (clips) what the modality cache prepared or skipped."""

    dataset: dict[str, Any]
    modality: str
    modality_options: dict[str, Any]
    preprocess: dict[str, Any] | None
    prepare: dict[str, Any] | None = None

    @property
    def skipped(self) -> list[dict[str, str]]:
        """The clips that could not be prepared and were left out (``[{key, error}]``)."""
        return list((self.prepare or {}).get("skipped") or [])

    def to_dict(self) -> dict[str, Any]:
        data = {"dataset": self.dataset, "modality": self.modality, "modality_options": self.modality_options,
                "preprocess": self.preprocess}
        return data if self.prepare is None else {**data, "prepare": self.prepare}


@dataclass(frozen=True)
class Inputs:
    """A study's samples and the record of what produced them."""

    samples: SampleSet
    record: InputRecord
