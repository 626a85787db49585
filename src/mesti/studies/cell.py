"""One study as a file: the grid file's schema for one cell (``mesti loso --config study.yaml``).

::

    dataset: {name: casme2, root: data/CASME2, classes: 3}   # + sheet, manifest, cache, label, adapter options
    modality: mesti
    model: meganet
    protocol: loso                 # implied by the command: loso or {name: kfold, k: 4}; holdout ...
    training: {epochs: 50, device: auto}
    size: 224
    face: dlib-hog
    seeds: [0, 1, 2]
    executor: local                # or {name: ray, address: auto, fold_tasks: 4}

and the keys of a grid file that a cell takes as they are (``img_size``, ``equalize``,
``engine``, ``folds_per_group``, ``modality_options`` and ``model_kwargs`` of its one
modality and model, ``save_checkpoints``). :class:`StudyCell` is the parsed file; YAML is
read and written here only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from mesti.errors import MestiError
from mesti.studies.executors import ExecutorSpec
from mesti.studies.spec import DatasetSpec, StudySpec
from mesti.utils.yamlfile import read_yaml

#: Every key of a cell file, in the order ``mesti config show`` prints them.
CELL_KEYS = ("dataset", "modality", "modality_options", "model", "model_kwargs", "protocol", "training", "size",
             "img_size", "face", "equalize", "engine", "folds_per_group", "seeds", "save_checkpoints", "executor")
_MAPPINGS = ("dataset", "modality_options", "model_kwargs", "training")


@dataclass(frozen=True)
class StudyCell:
    """A study and where it runs: what a cell file, or a command's options, resolve to."""

    study: StudySpec
    executor: ExecutorSpec = ExecutorSpec()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudyCell:
        """A cell's settings (every key checked); :class:`MestiError` names the key at fault."""
        check_keys(data, "study")
        for key in _MAPPINGS:
            if data.get(key) is not None and not isinstance(data[key], Mapping):
                raise MestiError(key, f"must be a mapping (key: value), got {data[key]!r}")
        if not isinstance(data.get("dataset"), Mapping) or not data["dataset"].get("name") or not data["dataset"].get("root"):
            raise MestiError("dataset", "give the dataset's name and root (--dataset and --root, or dataset: {name, root})")
        protocol = data.get("protocol") or {"name": "loso"}
        protocol = {"name": protocol} if isinstance(protocol, str) else protocol
        if not isinstance(protocol, Mapping) or "name" not in protocol:
            raise MestiError("protocol", f"must be a name or a mapping with 'name', got {protocol!r}")
        seeds = data.get("seeds", [0])
        if seeds is None or isinstance(seeds, str | bytes | Mapping) or not isinstance(seeds, Sequence):
            raise MestiError("seeds", f"must be a list of integers such as [0, 1, 2], got {seeds!r}")
        fixed = {k: data[k] for k in ("modality", "model", "size", "img_size", "face", "equalize", "engine",
                                      "folds_per_group", "save_checkpoints") if data.get(k) is not None}
        from mesti.utils.schema import check_types

        check_types(StudySpec, fixed, "study")
        study = StudySpec(dataset=DatasetSpec.from_entry(data["dataset"]), protocol=dict(protocol),
                          modality_options=dict(data.get("modality_options") or {}),
                          model_kwargs=dict(data.get("model_kwargs") or {}), training=dict(data.get("training") or {}),
                          seeds=tuple(seeds), **fixed)
        return cls(study, ExecutorSpec.from_config(data.get("executor")))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a cell file holds them (what ``mesti config show`` prints)."""
        s = self.study
        d = s.dataset
        dataset = {k: getattr(d, k) for k in ("name", "root", "classes", "sheet", "manifest", "cache", "label")
                   if getattr(d, k) is not None}
        data = {"dataset": {**dataset, **d.options}, "modality": s.modality, "modality_options": dict(s.modality_options),
                "model": s.model, "model_kwargs": dict(s.model_kwargs), "protocol": dict(s.protocol),
                "training": dict(s.training), "size": s.size, "img_size": s.img_size, "face": s.face,
                "equalize": s.equalize, "engine": s.engine, "folds_per_group": s.folds_per_group, "seeds": list(s.seeds),
                "save_checkpoints": s.save_checkpoints, "executor": _executor(self.executor)}
        return {k: data[k] for k in CELL_KEYS}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)


def _executor(spec: ExecutorSpec) -> str | dict[str, Any]:
    """The executor as its name when only the name differs from the defaults, else a mapping."""
    default = ExecutorSpec()
    changed = {f.name: getattr(spec, f.name) for f in fields(spec) if getattr(spec, f.name) != getattr(default, f.name)}
    return spec.name if set(changed) <= {"name"} else {"name": spec.name, **changed}


def check_keys(data: Mapping[str, Any], where: str) -> None:
    """Refuse a key a cell file does not have, naming it and the file (or option) it came from."""
    unknown = sorted(str(k) for k in data if k not in CELL_KEYS)
    if unknown:
        raise MestiError(f"{where}: {unknown[0]}", f"unknown key; a study file has {', '.join(CELL_KEYS)}")


def read_cell(path: str | Path) -> dict[str, Any]:
    """A cell file's mapping, its top-level keys checked (the values are checked with the rest)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise MestiError(path, "a study file is a YAML mapping (dataset, modality, model, training ...), "
                               f"not {type(data).__name__}")
    check_keys(data, str(path))
    return data


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def parse_override(text: str) -> tuple[str, Any]:
    """``training.epochs=3`` as ``("training.epochs", 3)``: the value is read as YAML
    (``3``, ``0.5``, ``true``, ``[0, 1]``, ``{k: 4}``); its top-level key must be a cell's."""
    key, eq, value = text.partition("=")
    if not eq or not _KEY.fullmatch(key):
        raise MestiError(text, "expected KEY=VALUE with a dotted key, e.g. training.epochs=3")
    check_keys({key.split(".")[0]: None}, text)
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise MestiError(text, f"{value!r} is not a value (a number, true/false, a name or a YAML list)") from None
    return key, parsed


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` in ``data``, making the mappings on its way."""
    *path, last = key.split(".")
    for i, part in enumerate(path):
        inner = data.get(part)
        if part == "protocol" and isinstance(inner, str):
            inner = {"name": inner}
        elif part == "executor" and isinstance(inner, str):
            inner = {"name": inner}
        elif inner is None:
            inner = {}
        elif not isinstance(inner, dict):
            raise MestiError(".".join(path[:i + 1]), f"is {inner!r}, not a mapping: {key} cannot be set in it")
        data[part] = inner = dict(inner)
        data = inner
    data[last] = value
