"""The pipeline at the file boundary: one JSON schema with a version number.

A fold checkpoint's ``X.pipeline.json``, a bundle's ``pipeline.json`` and a run directory's
``pipeline.json`` are all this schema. Version 0 (no ``pipeline_version`` key, written before
the pipeline had one) holds the same fields and is converted exactly; a newer version, or an
old one whose face preprocessing is not this mesti's, is refused with one line naming the
file and the version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mesti.errors import MestiError
from mesti.pipeline.steps import PRECOMPUTED, Normalization, Pipeline
from mesti.preprocessing.config import PREPROCESS_VERSION, PreprocessConfig
from mesti.utils.atomic import write_json
from mesti.utils.ranges import check_number

#: Bump when the schema changes; :func:`pipeline_from_dict` converts every older version it can.
PIPELINE_VERSION = 1
VERSION_KEY = "pipeline_version"


def preprocess_record(pipeline: Pipeline) -> dict[str, Any] | None:
    """The ``preprocess`` field: the face step's effective settings, or the resize of images."""
    if pipeline.modality == PRECOMPUTED:
        return {"resize": pipeline.resize}
    return None if pipeline.preprocess is None else pipeline.preprocess.effective()


def pipeline_to_dict(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline as JSON-ready data, in the current schema."""
    data: dict[str, Any] = {
        VERSION_KEY: PIPELINE_VERSION, "classes": list(pipeline.classes), "modality": pipeline.modality,
        "modality_options": dict(pipeline.modality_options), "preprocess": preprocess_record(pipeline),
        "normalize": None if pipeline.normalize is None else pipeline.normalize.to_dict(),
        "input_size": None if pipeline.input_size is None else list(pipeline.input_size),
    }
    if pipeline.fold is not None:
        data["trained_on_fold"] = pipeline.fold
        data["test_subjects"] = None if pipeline.test_subjects is None else list(pipeline.test_subjects)
    return data


def parse_preprocess(modality: str | None, record: Any, where: object) -> tuple[PreprocessConfig | None, int | None]:
    """``preprocess`` as recorded (a run's config or a pipeline file) -> (face settings, image resize)."""
    if record is None:
        return None, None
    if not isinstance(record, Mapping):
        raise MestiError(where, "pipeline 'preprocess' must be a JSON object")
    if modality == PRECOMPUTED:
        resize = record.get("resize")
        if resize is not None and (isinstance(resize, bool) or not isinstance(resize, int) or resize < 1):
            raise MestiError(where, f"pipeline 'preprocess.resize' must be a positive int, got {resize!r}")
        return None, resize
    settings = {k: v for k, v in record.items() if k != "version"}
    version = record.get("version", PREPROCESS_VERSION)
    if str(version) != PREPROCESS_VERSION:
        raise MestiError(where, f"face preprocessing version {version}, but this mesti crops faces with version "
                                f"{PREPROCESS_VERSION}: its inputs cannot be reproduced exactly; retrain the model")
    try:
        return PreprocessConfig(**settings), None
    except TypeError as exc:
        raise MestiError(where, f"pipeline 'preprocess' holds an unknown setting ({exc})") from None


def _input_size(data: Mapping[str, Any], where: object) -> tuple[int, int, int]:
    size = data["input_size"]
    if not isinstance(size, list) or len(size) != 3 or not all(isinstance(s, int) and s > 0 for s in size):
        raise MestiError(where, f"pipeline 'input_size' must be [C, H, W], got {size!r}")
    return size[0], size[1], size[2]


def _normalization(data: Mapping[str, Any], channels: int, where: object, trained: bool) -> Normalization | None:
    norm = data["normalize"]
    if norm is None and not trained:
        return None
    if not isinstance(norm, dict) or any(not isinstance(norm.get(k), list) or len(norm[k]) != channels
                                         for k in ("mean", "std")):
        raise MestiError(where, f"pipeline 'normalize' must hold {channels} means and stds")
    mean = tuple(check_number(v, float, "a normalisation mean", where) for v in norm["mean"])
    std = tuple(check_number(v, float, "a normalisation std", where, gt=0) for v in norm["std"])
    return Normalization(mean, std)


def pipeline_from_dict(data: Any, where: str | Path = "pipeline", trained: bool = True) -> Pipeline:
    """A pipeline read from JSON (any version this mesti converts exactly); anything malformed
    or newer names ``where``. ``trained``: it must hold a normalisation (a run directory's
    pipeline, written before its folds trained, holds none)."""
    if not isinstance(data, dict):
        raise MestiError(where, "not a pipeline record (a JSON object is expected)")
    version = data.get(VERSION_KEY, 0)  # 0: written before the schema had a version; same fields
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise MestiError(where, f"pipeline version {version!r} is not a version number")
    if version > PIPELINE_VERSION:
        raise MestiError(where, f"pipeline version {version} was written by a newer mesti (this one reads versions "
                                f"0 to {PIPELINE_VERSION}); upgrade mesti")
    missing = [k for k in ("classes", "modality", "normalize", "input_size") if k not in data]
    if missing:
        raise MestiError(where, f"pipeline lacks {', '.join(missing)}")
    classes = data["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes) \
            or len(set(classes)) != len(classes):
        raise MestiError(where, "pipeline 'classes' must be a non-empty list of distinct names")
    size = _input_size(data, where)
    norm = _normalization(data, size[0], where, trained)
    modality, options = data["modality"], data.get("modality_options") or {}
    if modality is not None and not isinstance(modality, str):
        raise MestiError(where, f"pipeline 'modality' must be a name, got {modality!r}")
    if not isinstance(options, dict):
        raise MestiError(where, "pipeline 'modality_options' must be a JSON object")
    preprocess, resize = parse_preprocess(modality, data.get("preprocess"), where)
    subjects = data.get("test_subjects")
    return Pipeline(modality, dict(options), preprocess, size, tuple(classes), norm, resize,
                    data.get("trained_on_fold"), None if subjects is None else tuple(subjects))


def read_pipeline(path: str | Path, trained: bool = True) -> Pipeline:
    """A pipeline file, any version :func:`pipeline_from_dict` converts."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MestiError(path, "missing (the pipeline of a trained model)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MestiError(path, f"not valid JSON ({exc})") from None
    return pipeline_from_dict(data, path, trained)


def write_pipeline(path: str | Path, pipeline: Pipeline) -> Path:
    """Write ``pipeline`` atomically in the current schema."""
    return write_json(path, pipeline_to_dict(pipeline))
