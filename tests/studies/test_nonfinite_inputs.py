"""Issue 16 item 5 (inputs): a sample with NaN or infinite pixels is refused, named, before training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mesti.errors import MestiError
from mesti.studies.inputs import load_samples
from mesti.engine.samples import SampleSet
from tests.studies.study_tree import study_of, write_study_tree


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_images_are_refused_by_name(bad: float) -> None:
    images = torch.rand(3, 3, 4, 4)
    images[1, 0, 2, 2] = bad
    samples = SampleSet.from_arrays(images, [0, 1, 0], ["s1", "s2", "s3"], ["d"] * 3, ["c1", "c2", "c3"], ["x", "y"])
    with pytest.raises(MestiError, match="^d/s2/c2: the input image holds NaN or infinite values"):
        samples.assert_finite()


def test_a_nan_cache_entry_of_the_right_shape_is_refused(tmp_path: Path) -> None:
    tree = write_study_tree(tmp_path / "casme2", subjects=2, per_class=1)
    kwargs = {"modality": "mesti", "classes": 3, "size": 32, "face": "none", "cache": tmp_path / "cache"}
    samples = load_samples(study_of("casme2", tree, **kwargs)).samples
    entry = sorted((tmp_path / "cache" / "mesti").glob("*.npy"))[0]
    np.save(entry, np.full(np.load(entry).shape, np.nan, dtype=np.float32))
    with pytest.raises(MestiError, match="casme2/sub0./.*NaN or infinite"):
        load_samples(study_of("casme2", tree, **kwargs))
