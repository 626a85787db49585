"""One shipped study per table of the paper, run through the grid engine (resumable).

A study file is one or more grid documents (README "Grid file") whose dataset roots are the
placeholders ``{casme2}``, ``{samm}``, ``{smic}``. ``run_study`` fills them, applies the
user's reductions (fewer epochs, smaller input ...), writes each resolved grid as
``OUT/<study>/part<i>.yaml`` (the record of what ran) and runs it with :func:`run_grid`.
Re-running the same command skips finished cells; other settings on the same folder are
refused, so one folder never mixes two configurations.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mesti.errors import MestiError
from mesti.utils.atomic import write_text
from mesti.utils.hooks import Hooks

#: Placeholder -> the ``mesti paper run`` flag that fills it.
ROOT_FLAGS = {"casme2": "--casme2", "samm": "--samm", "smic": "--smic"}
_PLACEHOLDER = re.compile(r"^\{(\w+)\}$")


@dataclass(frozen=True)
class Study:
    """A shipped study: its name, title, note and grid documents (placeholders unfilled).

    ``figures`` names the paper's tables whose printed figures its cells are compared with
    (its own name unless the index says otherwise); a cell the paper has no figure for is
    reported as not printed.
    """

    name: str
    title: str
    note: str
    documents: tuple[dict[str, Any], ...]
    figures: tuple[str, ...] = ()

    @property
    def roots(self) -> list[str]:
        """The datasets whose root the study needs, in flag order."""
        found = {m[1] for doc in self.documents for d in doc["datasets"] for v in d.values()
                 if isinstance(v, str) and (m := _PLACEHOLDER.match(v))}
        return [k for k in ROOT_FLAGS if k in found]


@dataclass(frozen=True)
class Reduction:
    """What a user may shrink to run a study faster; every change is written into the run folder."""

    epochs: int | None = None
    batch_size: int | None = None
    img_size: int | None = None
    size: int | None = None
    repeats: int | None = None
    face: str | None = None
    cache: str | None = None
    device: str | None = None
    models: Sequence[str] = field(default_factory=tuple)
    modalities: Sequence[str] = field(default_factory=tuple)
    seeds: Sequence[int] = field(default_factory=tuple)  # each seed a full run (the grid's seeds)
    report_oracle: bool = False  # not a reduction: adds the leaky figure beside the honest one
    recipe: str | None = None  # None: the study's own; paper: the paper's everywhere; native: see resolve_study


def _package_text(name: str) -> str:
    return resources.files("mesti.paper").joinpath("studies", name).read_text(encoding="utf-8")


def _index() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(_package_text("index.yaml"))


def list_studies() -> list[Study]:
    """Every shipped study, in the paper's order."""
    return [load_study(name) for name in _index()]


def load_study(name: str) -> Study:
    """The shipped study ``name`` (``table1`` ... ``table6``, ``composite``, ``cross``)."""
    index = _index()
    if name not in index:
        raise MestiError(name, f"no such study; choose one of {', '.join(index)}")
    docs = tuple(d for d in yaml.safe_load_all(_package_text(f"{name}.yaml")) if d)
    entry = index[name]
    return Study(name, entry["title"], entry.get("note", ""), docs, tuple(entry.get("figures") or (name,)))


def _fill(value: Any, roots: dict[str, Path]) -> Any:
    m = _PLACEHOLDER.match(value) if isinstance(value, str) else None
    return str(roots[m[1]]) if m else value


def _check_subset(what: str, wanted: Sequence[str], docs: Sequence[dict[str, Any]], study: str) -> None:
    offered = list(dict.fromkeys(x for doc in docs for x in doc[what]))
    unknown = [w for w in wanted if w not in offered]
    if unknown:
        raise MestiError(f"--{what}", f"{', '.join(unknown)} not in study {study} (it has {', '.join(offered)})")


def resolve_study(study: Study, roots: dict[str, Path | None], reduction: Reduction,
                  clip_list: Path | None = None) -> list[dict[str, Any]]:
    """The study's grid documents with roots filled and reductions applied."""
    missing = [k for k in study.roots if roots.get(k) is None]
    if missing:
        flags = ", ".join(ROOT_FLAGS[k] for k in missing)
        raise MestiError(study.name, f"needs the {', '.join(missing)} dataset root: give {flags} ROOT")
    filled = {k: Path(v) for k, v in roots.items() if v is not None}
    for k in study.roots:
        if not filled[k].is_dir():
            raise MestiError(filled[k], f"{ROOT_FLAGS[k]}: no such folder")
    _check_subset("models", reduction.models, study.documents, study.name)
    _check_subset("modalities", reduction.modalities, study.documents, study.name)
    if reduction.recipe not in (None, "paper", "native"):
        raise MestiError("--recipe", f"{reduction.recipe!r} must be paper or native")
    out = []
    for doc in study.documents:
        doc = copy.deepcopy(doc)
        # A study file may train a part with its networks' own recipe (Table II); --recipe paper
        # sets the paper's everywhere, --recipe native every part whose networks all have one.
        if reduction.recipe == "paper":
            doc["training"] = {**(doc.get("training") or {}), "recipe": "paper"}
        elif reduction.recipe == "native" and all(_has_recipe(m) for m in doc["models"]):
            doc["training"] = {**(doc.get("training") or {}), "recipe": "native"}
        # A reduction keeps the named networks and modalities; a part left with none is dropped.
        doc["models"] = [m for m in doc["models"] if not reduction.models or m in reduction.models]
        doc["modalities"] = [m for m in doc["modalities"] if not reduction.modalities or m in reduction.modalities]
        if not doc["models"] or not doc["modalities"]:
            continue
        doc["datasets"] = [{k: _fill(v, filled) for k, v in d.items()} for d in doc["datasets"]]
        if clip_list is not None:
            for d in doc["datasets"]:
                if d["name"] in ("composite", "smic"):
                    d["sheet"] = str(clip_list)
        training = dict(doc.get("training") or {})
        for key, value in (("epochs", reduction.epochs), ("batch_size", reduction.batch_size), ("device", reduction.device)):
            if value is not None:
                training[key] = value
        if reduction.seeds:
            training.pop("seed", None)
            doc["seeds"] = [int(s) for s in reduction.seeds]
        doc["training"] = training
        if reduction.report_oracle:
            doc["report_oracle"] = True
        for key, value in (("img_size", reduction.img_size), ("size", reduction.size), ("face", reduction.face),
                           ("cache", reduction.cache)):
            if value is not None:
                doc[key] = value
        if reduction.repeats is not None:
            doc["protocols"] = [{**p, "repeats": reduction.repeats} if p.get("name") == "holdout" else p for p in doc["protocols"]]
        out.append(doc)
    if reduction.recipe == "native" and not any((d.get("training") or {}).get("recipe") == "native" for d in out):
        raise MestiError("--recipe native", f"no network of {study.name} has a published recipe; use --recipe paper")
    return out


def _has_recipe(model: str) -> bool:
    from mesti.models import get_model_info

    return bool(get_model_info(model).native_recipe)


def _settled(path: Path, text: str, write: bool) -> None:
    """Refuse a run folder made with other settings; write the resolved grid when new."""
    if path.is_file():
        if path.read_text(encoding="utf-8") != text:
            old, new = yaml.safe_load(path.read_text(encoding="utf-8")), yaml.safe_load(text)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise MestiError(path, f"this run folder was made with other settings ({', '.join(diff)} differ); "
                                   "re-run with the same options or choose another --out")
        return
    if write:
        write_text(path, text)


def run_study(name: str, roots: dict[str, Path | None], out: str | Path, reduction: Reduction | None = None, *,
              clip_list: Path | None = None, command: str = "",
              hooks: Hooks | None = None) -> list[dict[str, Any]]:
    """Run study ``name`` into ``OUT/<name>/part<i>/``; returns the summary rows of every part
    (a cell that failed has ``status: failed``, as in :func:`~mesti.studies.grid.run_grid`)."""
    from mesti.studies.grid import GridSpec, run_grid

    study = load_study(name)
    docs = resolve_study(study, roots, reduction or Reduction(), clip_list)
    folder = Path(out) / name
    texts = [yaml.safe_dump(d, sort_keys=False) for d in docs]
    paths = [folder / f"part{i + 1}.yaml" for i in range(len(docs))]
    with tempfile.TemporaryDirectory() as tmp:  # every part must parse before anything is written
        for i, text in enumerate(texts):
            check = Path(tmp) / f"part{i + 1}.yaml"
            check.write_text(text, encoding="utf-8")
            GridSpec.from_yaml(check)
    for path, text in zip(paths, texts):
        _settled(path, text, write=False)
    for path, text in zip(paths, texts):
        _settled(path, text, write=True)
    rows: list[dict[str, Any]] = []
    for i, path in enumerate(paths):
        rows.extend(run_grid(GridSpec.from_yaml(path), folder / f"part{i + 1}", command=command, hooks=hooks))
    return rows
