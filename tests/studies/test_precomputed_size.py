"""Issue 16 item 12: precomputed images keep their own size unless --size asks for another."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mesti.errors import MestiError
from mesti.studies.inputs import load_samples
from tests.studies.study_tree import study_of


def write_images(root: Path, sizes: list[int]) -> Path:
    rows = []
    for i, side in enumerate(sizes):
        pixels = np.random.default_rng(i).integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"f{i}.png")
        rows.append(f"f{i}.png,s{i},{'ab'[i % 2]}")
    (root / "manifest.csv").write_text("path,subject,label\n" + "\n".join(rows) + "\n")
    return root


def test_flow_images_are_read_at_their_own_size(tmp_path: Path) -> None:
    root = write_images(tmp_path, [28, 28, 28])
    inputs = load_samples(study_of("images", root, modality=None))
    samples = inputs.samples
    assert tuple(samples.images.shape) == (3, 3, 28, 28)
    exact = np.asarray(Image.open(root / "f1.png"), dtype=np.float32).transpose(2, 0, 1)
    assert np.array_equal(samples.images[1].numpy(), exact)  # no interpolation at all
    assert inputs.record.preprocess == {"resize": None}
    resized = load_samples(study_of("images", root, modality=None, size=32)).samples
    assert tuple(resized.images.shape[-2:]) == (32, 32)


def test_images_of_different_sizes_need_a_size(tmp_path: Path) -> None:
    root = write_images(tmp_path, [28, 32])
    with pytest.raises(MestiError, match="images/s1/f1: the image is 32x32, the first one 28x28; give --size"):
        load_samples(study_of("images", root, modality=None))
    assert tuple(load_samples(study_of("images", root, modality=None, size=28)).samples.images.shape) == (2, 3, 28, 28)
