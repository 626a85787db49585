"""A tiny CASME II-layout dataset whose classes differ only in the direction of a small motion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mesti.studies.spec import DatasetSpec, StudySpec
from tests.cache.casme2_tree import FakeClip, write_tree
from tests.conftest import shifted, textured_frame

# 3-class (MEGC) names: happiness -> positive, disgust -> negative, surprise -> surprise.
DIRECTIONS = {"happiness": (1.2, 0.0), "disgust": (-1.2, 0.0), "surprise": (0.0, 1.2)}


def motion_frames(emotion: str, seed: int, size: int = 32, length: int = 6, apex: int = 3) -> np.ndarray:
    dx, dy = DIRECTIONS[emotion]
    base = textured_frame(size, seed)
    frames = []
    for t in range(length):
        w = t / apex if t <= apex else (length - 1 - t) / (length - 1 - apex)
        frames.append(shifted(base, dx * w, dy * w))
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def write_study_tree(root: Path, subjects: int = 4, per_class: int = 2, size: int = 32, seed: int = 0) -> Path:
    """``seed`` shifts every clip's frames, so trees of other seeds hold other clips."""
    clips = []
    n = 0
    for s in range(1, subjects + 1):
        for emotion in DIRECTIONS:
            for k in range(per_class):
                n += 1
                clips.append(FakeClip(s, f"EP{n:02d}_{k + 1:02d}f", emotion, onset=5, apex_offset=3,
                                      frames=motion_frames(emotion, seed=n + 1000 * seed, size=size)))
    return write_tree(root, tuple(clips), size=size)


def study_of(dataset: str, root: Path, **kw: Any) -> StudySpec:
    """The study spec ``load_samples`` reads: ``kw`` are the dataset's keys (classes, sheet,
    manifest, cache) and the spec's input fields (modality, size, face, equalize,
    modality_options)."""
    entry = {k: (str(v) if isinstance(v, Path) else v) for k, v in kw.items() if k in ("classes", "sheet", "manifest", "cache")}
    rest = {k: v for k, v in kw.items() if k not in entry}
    if "options" in rest:
        rest["modality_options"] = dict(rest.pop("options") or {})
    return StudySpec(dataset=DatasetSpec(dataset, str(root), **{k: v for k, v in entry.items() if v is not None}), **rest)
