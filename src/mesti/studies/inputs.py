"""From "dataset X at ROOT, modality M" to the in-memory samples a study trains on.

Clips go through the modality cache (``mesti prepare``): computed once, reused by every
model, protocol and seed. Precomputed images (a manifest of one image per sample) are read
as they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any


from mesti.errors import MestiError
from mesti.engine.samples import InputRecord, Inputs, SampleSet
from mesti.pipeline import resolve_preprocess
from mesti.utils.hooks import Hooks

if TYPE_CHECKING:
    from mesti.studies.spec import StudySpec


def default_cache_dir() -> Path:
    """``$MESTI_CACHE`` or ``~/.cache/mesti``: outside the (often read-only) dataset folder."""
    return Path(os.environ.get("MESTI_CACHE", Path.home() / ".cache" / "mesti"))


def load_samples(spec: StudySpec, *, workers: int | None = None, hooks: Hooks | None = None,
                 strict: bool = False) -> Inputs:
    """Samples of the spec's modality for every labelled clip of its dataset, and what produced them.

    Reads ``spec.dataset``, ``modality``, ``modality_options``, ``size``, ``face`` and
    ``equalize``. ``size``: the face crops' side for clips (default 224); precomputed images
    keep their own size unless ``size`` is given (the network input is fitted once, later).

    The returned record goes into the run's config (dataset, root, classes, modality and its
    options, preprocessing), so a report says exactly what was trained on; its ``skipped``
    lists the clips that could not be prepared and were left out (``strict``: raise
    :class:`MestiError` instead).
    """
    from mesti.datasets.registry import create_dataset

    d = spec.dataset
    dataset, root, modality, size = d.name, d.root, spec.modality, spec.size
    sheet, manifest, classes = d.sheet, d.manifest, d.classes
    if sheet is not None and manifest is not None:
        raise MestiError("--manifest", "give either --sheet or --manifest, not both")
    if dataset == "folder" and modality is None:
        dataset = "images"  # `--dataset folder --manifest F` without a modality: one image per row
    # A manifest is the folder adapters' sheet.
    adapter = create_dataset(dataset, root, sheet=sheet if sheet is not None else manifest, classes=classes,
                             **d.options)
    records = adapter.records()
    if records and all(r.kind == "image" for r in records):
        return _image_samples(adapter, records, dataset, root, size)
    if modality is None:
        raise MestiError("--modality", f"dataset {dataset!r} holds clips: name the modality to encode them as")

    from mesti.cache import prepare
    from mesti.cache.torch_datasets import load_cached_arrays
    config = resolve_preprocess(spec.face, spec.equalize, size)
    cache_dir = Path(d.cache) if d.cache is not None else default_cache_dir() / dataset
    opts = {modality: dict(spec.modality_options)}
    report = prepare(adapter, [modality], cache_dir, config=config, options=opts, workers=workers, hooks=hooks,
                     option="--cache")
    if strict and report.failures:
        first = report.failures[0]
        raise MestiError(first["key"], f"{len(report.failures)} clip(s) could not be prepared (strict); first: {first['error']}")
    if report.clips and not report.prepared and report.failures:  # a wrong root, not a few bad clips
        raise MestiError(root, f"none of the {report.clips} labelled {dataset} clips could be prepared from this "
                               f"dataset root (first: {report.failures[0]['error']}); is it the {dataset} folder?")
    arrays = load_cached_arrays(cache_dir, modality, class_names=list(adapter.class_names), allow_incomplete=True)
    samples = SampleSet.from_arrays(arrays.images, arrays.labels, arrays.subjects, arrays.datasets,
                                    arrays.clip_ids, arrays.class_names).assert_finite()
    record = InputRecord(
        dataset={"name": dataset, "root": str(root), "classes": classes, "sheet": str(sheet) if sheet else None,
                 "issues": list(getattr(adapter, "issues", []) or [])},
        modality=modality,
        modality_options=dict(spec.modality_options),
        preprocess=config.effective(),
        prepare={"cache": str(cache_dir), "prepared": len(samples), "skipped": _skipped(report)},
    )
    return Inputs(samples, record)


def _skipped(report: Any) -> list[dict[str, str]]:
    """The clips ``prepare`` could not make (``[{key, error}]``), kept in the run's config."""
    return list(getattr(report, "failures", []) or [])


def _image_samples(adapter: Any, records: list[Any], dataset: str, root: str | Path, size: int | None) -> Inputs:
    """Precomputed images (flow images, MESTIs made elsewhere): the image is the input, at
    its own size unless ``size`` asks for another (each resize interpolates once more)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    names = list(adapter.class_names)
    labelled = [r for r in records if r.label is not None]
    images = []
    for r in labelled:
        img = torch.from_numpy(r.load_image().astype(np.float32)).permute(2, 0, 1)[None]
        if size is not None and img.shape[-2:] != (size, size):
            img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        elif images and img.shape[-2:] != images[0].shape[-2:]:
            (h, w), (h0, w0) = img.shape[-2:], images[0].shape[-2:]
            raise MestiError(r.key, f"the image is {w}x{h}, the first one {w0}x{h0}; give --size to bring them to one size")
        images.append(img[0])
    samples = SampleSet.from_arrays(
        torch.stack(images), [names.index(r.label) for r in labelled], [r.subject for r in labelled],
        [r.dataset for r in labelled], [r.clip_id for r in labelled], names,
    ).assert_finite()
    record = InputRecord(dataset={"name": dataset, "root": str(root), "classes": names,
                                  "issues": list(getattr(adapter, "issues", []) or [])},
                         modality="precomputed images", modality_options={},
                         preprocess={"resize": size})  # None: each image at its own size
    return Inputs(samples, record)
