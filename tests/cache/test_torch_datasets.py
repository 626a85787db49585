"""Torch datasets over the cache and over raw clips return the right image, label and names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mesti.cache import INDEX_NAME, prepare
from mesti.datasets.registry import create_dataset
from mesti.cache.torch_datasets import CachedModalityDataset, ClipDataset, Sample, load_cached_arrays
from mesti.errors import MestiError
from tests.cache.casme2_tree import DEFAULT_CLIPS
from tests.cache.conftest import FAST

CLASSES_5 = ["happiness", "disgust", "repression", "surprise", "others"]
LABELLED = [c for c in DEFAULT_CLIPS if c.emotion in CLASSES_5]


@pytest.fixture
def cache(tree: Path, tmp_path: Path) -> Path:
    out = tmp_path / "cache"
    prepare(create_dataset("casme2", tree), ["mesti", "apex"], out, config=FAST, workers=1)
    return out


def test_cached_dataset_items(cache: Path) -> None:
    ds = CachedModalityDataset(cache, "mesti")
    assert len(ds) == len(LABELLED)
    assert ds.class_names == CLASSES_5
    for i, clip in enumerate(LABELLED):
        item = ds[i]
        assert isinstance(item, Sample)
        assert item.image.shape == (3, 24, 24) and item.image.dtype == torch.float32
        assert CLASSES_5[item.label] == clip.emotion
        assert (item.subject, item.dataset, item.clip_id) == (f"sub{clip.subject:02d}", "casme2", clip.filename)
        stored = np.load(ds.index.path(ds.entries[i]))
        assert torch.equal(item.image, torch.from_numpy(stored).permute(2, 0, 1))
    assert ds.subjects == ["sub01", "sub01", "sub02", "sub02", "sub03"]


def test_given_class_order_remaps_labels_and_unknown_labels_fail(cache: Path) -> None:
    order = list(reversed(CLASSES_5))
    ds = CachedModalityDataset(cache, "apex", class_names=order)
    assert [order[label] for label in ds.labels] == [c.emotion for c in LABELLED]
    with pytest.raises(MestiError, match="not among the classes"):
        CachedModalityDataset(cache, "apex", class_names=["happiness", "surprise"])


def test_keys_select_clips_and_transform_is_applied(cache: Path) -> None:
    keys = [LABELLED[3].key, LABELLED[0].key]
    ds = CachedModalityDataset(cache, "apex", keys=keys, transform=lambda x: x / 255.0)
    assert ds.keys == [LABELLED[0].key, LABELLED[3].key]  # index order
    assert float(ds[0].image.max()) <= 1.0
    with pytest.raises(MestiError, match="not in the apex cache"):
        CachedModalityDataset(cache, "apex", keys=["casme2/sub09/EP01_01f"])


def test_loader_batches_samples(cache: Path) -> None:
    batch = next(iter(DataLoader(CachedModalityDataset(cache, "mesti"), batch_size=4)))
    assert batch.image.shape == (4, 3, 24, 24)
    assert batch.label.tolist() == [CLASSES_5.index(c.emotion) for c in LABELLED[:4]]
    assert list(batch.subject) == ["sub01", "sub01", "sub02", "sub02"]


def test_load_cached_arrays_matches_the_dataset(cache: Path) -> None:
    arrays = load_cached_arrays(cache, "mesti")
    ds = CachedModalityDataset(cache, "mesti")
    assert arrays.images.shape == (5, 3, 24, 24) and arrays.images.dtype == torch.float32
    assert arrays.labels.dtype == torch.int64 and arrays.labels.tolist() == ds.labels
    assert arrays.clip_ids == [c.filename for c in LABELLED]
    assert arrays.datasets == ["casme2"] * 5 and arrays.subjects == ds.subjects
    assert arrays.class_names == CLASSES_5
    for i in range(len(ds)):
        assert torch.equal(arrays.images[i], ds[i].image)
    images, labels, subjects, datasets, clip_ids, class_names = arrays  # plain tuple unpacking works
    assert images is arrays.images


def test_clip_dataset_computes_what_the_cache_holds(tree: Path, cache: Path) -> None:
    adapter = create_dataset("casme2", tree)
    fresh = ClipDataset(adapter, "mesti", preprocess=FAST)
    cached = CachedModalityDataset(cache, "mesti")
    assert len(fresh) == len(cached)
    for i in range(len(fresh)):
        a, b = fresh[i], cached[i]
        assert torch.equal(a.image, b.image)
        assert (a.label, a.subject, a.dataset, a.clip_id) == (b.label, b.subject, b.dataset, b.clip_id)


def test_clip_dataset_from_records_needs_class_names(tree: Path) -> None:
    records = create_dataset("casme2", tree).records()
    with pytest.raises(MestiError, match="class_names"):
        ClipDataset(records, "apex")
    ds = ClipDataset(records, "apex", class_names=CLASSES_5)
    assert len(ds) == 5 and ds[0].image.shape[0] == 3  # raw frames: no preprocessing, native size


def test_missing_or_tampered_index_is_refused(cache: Path) -> None:
    with pytest.raises(MestiError, match="no prepared 'dynamic_image' images.*apex, mesti"):
        CachedModalityDataset(cache, "dynamic_image")
    path = cache / "apex" / INDEX_NAME
    doc = json.loads(path.read_text())
    doc["entries"][0]["file"] = "../../outside.npy"
    path.write_text(json.dumps(doc))
    with pytest.raises(MestiError, match="bare .npy name"):
        CachedModalityDataset(cache, "apex")
