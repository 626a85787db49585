"""Precomputed images (no modality to prepare): the fastest real study input for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def image_folder(root: Path) -> Path:
    """Three subjects of six 20 x 20 PNGs and their manifest (labels 0/1 alternate per clip)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = ["path,subject,label,clip"]
    for s in range(3):
        for i in range(6):
            img = rng.integers(0, 60, size=(20, 20, 3), dtype=np.uint8)
            img[:, (10 if i % 2 else 0) : (20 if i % 2 else 10)] += 150
            rel = Path(f"s{s}") / f"c{i}.png"
            (root / rel.parent).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / rel)
            rows.append(f"{rel.as_posix()},s{s},{i % 2},c{i}")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n")
    return root / "manifest.csv"
