"""PyTorch datasets: images from the prepared cache, or encoded on the fly from raw clips.

Every item is a :class:`Sample` ``(image, label, subject, dataset, clip_id)``: the subject is
what LOSO splits on, dataset and clip id name the item in per-clip reports. ``default_collate``
batches it into the same named tuple (images stacked, labels a tensor, strings in sequences).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from mesti.cache.store import CacheIndex, IndexEntry, read_index
from mesti.datasets.base import ClipRecord
from mesti.datasets.registry import DatasetAdapter
from mesti.errors import MestiError
from mesti.modalities import get_modality
from mesti.pipeline import encoding_pipeline
from mesti.preprocessing.config import PreprocessConfig
from mesti.preprocessing.face import FacePreprocessor

Transform = Callable[[torch.Tensor], torch.Tensor]


class Sample(NamedTuple):
    """One item: ``image`` is ``C x H x W`` float32 (the encoder's range, usually 0..255)."""

    image: torch.Tensor
    label: int
    subject: str
    dataset: str
    clip_id: str


class CachedArrays(NamedTuple):
    """A whole modality in memory, for training engines that index folds directly."""

    images: torch.Tensor  # N x C x H x W float32
    labels: torch.Tensor  # N, int64 indices into class_names
    subjects: list[str]
    datasets: list[str]
    clip_ids: list[str]
    class_names: list[str]


def _label_indices(entries: Sequence[IndexEntry], class_names: Sequence[str], where: object) -> list[int]:
    lookup = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({e.label for e in entries if e.label not in lookup})
    if unknown:
        raise MestiError(where, f"label(s) {', '.join(unknown)} are not among the classes {list(class_names)}")
    return [lookup[e.label] for e in entries]


def _select(index: CacheIndex, keys: Collection[str] | None) -> list[IndexEntry]:
    if keys is None:
        return list(index.entries)
    wanted = set(keys)
    entries = [e for e in index.entries if e.key in wanted]
    missing = wanted - {e.key for e in entries}
    if missing:
        shown = ", ".join(sorted(missing)[:3]) + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
        raise MestiError(index.folder, f"clip(s) not in the {index.modality} cache: {shown}")
    return entries


def _read_image(path: os.PathLike[str] | str) -> np.ndarray:
    try:
        image = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise MestiError(path, f"unreadable cache entry ({exc}); re-run mesti prepare to rebuild it") from None
    if image.ndim != 3 or image.dtype != np.float32:
        raise MestiError(path, f"cache entry is {image.dtype} {image.shape}, not float32 H x W x C; re-run mesti prepare")
    return image


class CachedModalityDataset(Dataset[Sample]):
    """One modality of a prepared cache (``mesti prepare``), read one image per item.

    ``class_names`` defaults to the cache's; giving it (e.g. a fixed order shared by several
    datasets) remaps labels and fails on a label outside it. ``keys`` keeps only those clips
    (``dataset/subject/clip``). An index left by an interrupted run is refused unless
    ``allow_incomplete``.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        modality: str,
        class_names: Sequence[str] | None = None,
        transform: Transform | None = None,
        keys: Collection[str] | None = None,
        allow_incomplete: bool = False,
    ) -> None:
        self.index = read_index(cache_dir, modality, allow_incomplete=allow_incomplete)
        self.modality = modality
        self.class_names = list(class_names if class_names is not None else self.index.class_names)
        self.entries = _select(self.index, keys)
        self.labels = _label_indices(self.entries, self.class_names, self.index.folder)
        self.transform = transform

    @property
    def subjects(self) -> list[str]:
        return [e.subject for e in self.entries]

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> Sample:
        entry = self.entries[i]
        image = torch.from_numpy(np.ascontiguousarray(_read_image(self.index.path(entry)).transpose(2, 0, 1)))
        if self.transform is not None:
            image = self.transform(image)
        return Sample(image, self.labels[i], entry.subject, entry.dataset, entry.clip_id)


def load_cached_arrays(
    cache_dir: str | os.PathLike[str],
    modality: str,
    class_names: Sequence[str] | None = None,
    keys: Collection[str] | None = None,
    allow_incomplete: bool = False,
) -> CachedArrays:
    """Every cached image of ``modality`` as one ``N x C x H x W`` float32 tensor, in index order.

    Small enough for memory at the paper's scale (442 clips at 224 x 224 x 3: 266 MB), and a
    fold then only selects rows: nothing is read from disk during training.
    """
    ds = CachedModalityDataset(cache_dir, modality, class_names, keys=keys, allow_incomplete=allow_incomplete)
    if len(ds) == 0:
        raise MestiError(ds.index.folder, f"the {modality} cache holds no images")
    first = _read_image(ds.index.path(ds.entries[0]))
    images = np.empty((len(ds), first.shape[2], first.shape[0], first.shape[1]), dtype=np.float32)
    for i, entry in enumerate(ds.entries):
        path = ds.index.path(entry)
        image = first if i == 0 else _read_image(path)
        if image.shape != first.shape:
            raise MestiError(path, f"image of shape {image.shape}, others {first.shape}; re-run mesti prepare")
        images[i] = image.transpose(2, 0, 1)
    return CachedArrays(
        torch.from_numpy(images),
        torch.tensor(ds.labels, dtype=torch.int64),
        [e.subject for e in ds.entries],
        [e.dataset for e in ds.entries],
        [e.clip_id for e in ds.entries],
        ds.class_names,
    )


class ClipDataset(Dataset[Sample]):
    """Clips read, preprocessed and encoded on every access (no cache): for small experiments,
    for checking the cache against a fresh computation, or when preprocessing is being tuned.

    ``source`` is a dataset adapter (its labelled clips and class names) or a list of
    :class:`ClipRecord` (then ``class_names`` is required). ``preprocess`` is a
    :class:`PreprocessConfig`, a :class:`FacePreprocessor`, or ``None`` to encode the frames
    as they are.
    """

    def __init__(
        self,
        source: DatasetAdapter | Sequence[ClipRecord],
        modality: str,
        preprocess: PreprocessConfig | FacePreprocessor | None = None,
        options: Mapping[str, Any] | None = None,
        class_names: Sequence[str] | None = None,
        transform: Transform | None = None,
    ) -> None:
        if isinstance(source, Sequence):
            records = list(source)
            if class_names is None:
                raise MestiError("ClipDataset", "class_names is required when clips are given as records")
        else:
            records = source.records()
            class_names = class_names if class_names is not None else source.class_names
        get_modality(modality).check_options(dict(options or {}))
        self.records = [r for r in records if r.label is not None]
        self.class_names = list(class_names)
        lookup = {name: i for i, name in enumerate(self.class_names)}
        unknown = sorted({str(r.label) for r in self.records if r.label not in lookup})
        if unknown:
            raise MestiError("ClipDataset", f"label(s) {', '.join(unknown)} are not among the classes {self.class_names}")
        self.labels = [lookup[str(r.label)] for r in self.records]
        self.modality = modality
        self.options = dict(options or {})
        config = preprocess.config if isinstance(preprocess, FacePreprocessor) else preprocess
        self.pipeline = encoding_pipeline(modality, self.options, config)
        self.transform = transform

    @property
    def subjects(self) -> list[str]:
        return [r.subject for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Sample:
        record = self.records[i]
        array = self.pipeline.image(record.load())
        image = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        if self.transform is not None:
            image = self.transform(image)
        return Sample(image, self.labels[i], record.subject, record.dataset, record.clip_id)
