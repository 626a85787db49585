"""Toy samples shared by the engine tests: three classes told apart by where a bright bar sits."""

from __future__ import annotations

import numpy as np

from mesti.engine.samples import SampleSet


def toy_samples(sizes: tuple[int, ...] = (12, 12, 12, 12), size: int = 16, seed: int = 0) -> SampleSet:
    """Three classes told apart by the row of a bright bar; subject ``s`` has ``sizes[s]`` samples."""
    rng = np.random.default_rng(seed)
    images, labels, subjects = [], [], []
    for s, n in enumerate(sizes):
        for i in range(n):
            y = i % 3
            img = rng.normal(100, 20, size=(3, size, size)).astype(np.float32)
            r = 3 + 5 * y
            img[:, r - 2 : r + 2, 4:12] += 120
            images.append(img)
            labels.append(y)
            subjects.append(f"sub{s:02d}")
    return SampleSet.from_arrays(np.stack(images), labels, subjects, ["toy"] * len(labels),
                                 [f"c{i}" for i in range(len(labels))], ["negative", "positive", "surprise"])
