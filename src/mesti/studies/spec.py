"""One study specification, and one function that runs it.

``mesti loso``, ``mesti holdout`` and every cell of ``mesti grid`` build a :class:`StudySpec`
and hand it to :func:`run_study`, so a study means the same thing whichever way it was
asked for: the training recipe, the protocol's seed and the names are resolved here and
nowhere else. The spec is written into the run's ``config.yaml`` (key ``study``), so a
resume compares it.

Seeds: each seed is a full run. One seed writes the run into ``OUT`` itself; several write
``OUT/seed-<s>/`` each and then ``OUT/metrics.json`` with the mean and standard deviation
over seeds (``OUT/seeds.md`` shows them). The study seed seeds the training and, when the
protocol takes a seed and the spec does not fix one, its split.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mesti.errors import MestiError
from mesti.protocols import Protocol, protocol_from_config
from mesti.reports.metrics import ORACLE_KEY, ORACLE_LABEL
from mesti.engine.config import TrainConfig
from mesti.engine.samples import Inputs
from mesti.utils.hooks import Hooks
from mesti.utils.outputs import output_scope
from mesti.utils.schema import check_fields, check_types
from mesti.utils.ranges import IMG_SIZE, SEED


if TYPE_CHECKING:
    from mesti.studies.run import Experiment

_DATASET_KEYS = ("name", "root", "classes", "sheet", "manifest", "cache", "label")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,99}")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as a study reads it; ``options`` go to its adapter (e.g. SAMM's merges).

    ``label`` names the dataset's grid folder when two entries share a name.
    """

    name: str
    root: str
    classes: int | None = None
    sheet: str | None = None
    manifest: str | None = None
    cache: str | None = None
    label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self, "dataset")
        # The label is a folder name under the grid's --out: a path (../x, /abs, a/b) would
        # write the cell's run outside it.
        if self.label is not None and not _PLAIN_NAME.fullmatch(self.label):
            raise MestiError(f"dataset label {self.label!r}", "must be a plain name (letters, digits, '.', '_', '-', "
                             "'+'; at most 100 characters, not starting with '.' or '-'), not a path")

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], where: str = "dataset") -> DatasetSpec:
        """A grid's dataset entry: the known keys, every other key an adapter option."""
        if not isinstance(entry, Mapping) or "name" not in entry or "root" not in entry:
            raise MestiError(where, "each dataset needs at least 'name' and 'root'")
        known = {k: entry[k] for k in _DATASET_KEYS if entry.get(k) is not None}
        known = {k: (str(v) if k in ("root", "sheet", "manifest", "cache", "label", "name") else v) for k, v in known.items()}
        check_types(cls, known, where)
        return cls(**known, options={k: v for k, v in entry.items() if k not in _DATASET_KEYS})

    @property
    def tag(self) -> str:
        """The grid folder: ``label``, else ``<name>-<classes>c`` or ``<name>``."""
        if self.label:
            return self.label
        return f"{self.name}-{self.classes}c" if self.classes else self.name


@dataclass(frozen=True)
class StudySpec:
    """Everything that decides a study's numbers: data, input, network, protocol, training.

    ``training`` holds :class:`TrainConfig` options plus ``recipe`` (paper or native),
    resolved by :meth:`train_config`; ``protocol`` is a protocol entry (``{"name": "kfold",
    "k": 4}``); ``engine`` is how folds train (sequential, stacked, auto).
    """

    dataset: DatasetSpec
    model: str = "meganet"
    protocol: dict[str, Any] = field(default_factory=lambda: {"name": "loso"})
    modality: str | None = None
    modality_options: dict[str, Any] = field(default_factory=dict)
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    img_size: int | None = None
    size: int | None = None  # face crops: 224; precomputed images keep their own size
    face: str = "dlib-hog"
    equalize: str = "frame"
    training: dict[str, Any] = field(default_factory=dict)
    engine: str = "auto"
    folds_per_group: int | None = None
    seeds: tuple[int, ...] = (0,)
    save_checkpoints: bool = False

    def __post_init__(self) -> None:
        if "seed" in self.training:
            raise MestiError("training.seed", "give the seed(s) of a study as its seeds, not as a training option")
        if isinstance(self.seeds, str | bytes) or not isinstance(self.seeds, Iterable):
            raise MestiError("seeds", f"must be a list of integers such as [0, 1, 2], got {self.seeds!r}")
        seeds = tuple(SEED.check(s, "seeds") for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise MestiError("seeds", f"{list(seeds)} must list at least one seed, each once")
        object.__setattr__(self, "seeds", seeds)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["seeds"] = list(self.seeds)
        return data

    def for_seed(self, seed: int) -> StudySpec:
        return dataclasses.replace(self, seeds=(seed,))

    def train_config(self, seed: int) -> TrainConfig:
        """The training config of one seed, with the recipe applied (TrainConfig.for_model)."""
        return TrainConfig.for_model({**self.training, "seed": seed}, self.model)

    def build_protocol(self, seed: int) -> Protocol:
        """The protocol; one that takes a seed and was given none splits with the study seed."""
        protocol = protocol_from_config(self.protocol)
        if "seed" not in self.protocol and "seed" in protocol.config():
            protocol = protocol_from_config({**self.protocol, "seed": seed})
        return protocol

    def check(self) -> None:
        """Refuse unknown names and bad options now, before any data is read or run started."""
        from mesti.datasets.registry import list_datasets
        from mesti.models import input_channels
        from mesti.engine.stacked import StackedOptions, resolve_engine

        if self.dataset.name not in list_datasets():
            raise MestiError("--dataset", f"unknown dataset {self.dataset.name!r}; choose one of {', '.join(list_datasets())}")
        if self.model_kwargs is not None and not isinstance(self.model_kwargs, Mapping):
            raise MestiError(f"model {self.model}", f"its options must be a mapping, got {self.model_kwargs!r}")
        in_chans, rest = input_channels(self.model, self.model_kwargs)  # an unknown network or a bad in_chans, named now
        if rest:  # an unknown network option fails now, not in a cell after others ran
            import torch

            from mesti.models import create_model

            with torch.device("meta"):
                try:
                    create_model(self.model, 2, in_chans=in_chans, img_size=self.img_size, **rest)
                except (NotImplementedError, RuntimeError):
                    pass  # a network that cannot be built without memory is checked when it is built
        if self.modality is not None and self.dataset.name != "images":  # precomputed images take no modality
            from mesti.modalities.registry import get_modality

            get_modality(self.modality).check_options(dict(self.modality_options))
        if self.img_size is not None:
            IMG_SIZE.check(self.img_size)
        if self.size is not None and self.size < 1:
            raise MestiError("size", f"{self.size} must be a positive number of pixels")
        for seed in self.seeds:
            self.build_protocol(seed)
        cfg = self.train_config(self.seeds[0])
        StackedOptions(folds_per_group=self.folds_per_group)
        resolve_engine(self.engine, cfg.device)

    def experiment(self, seed: int) -> Experiment:
        """One seed's run as the engine takes it: network, protocol, training config, engine."""
        from mesti.engine.stacked import StackedOptions
        from mesti.studies.run import Experiment

        return Experiment(self.model, self.build_protocol(seed), self.train_config(seed), dict(self.model_kwargs),
                          self.img_size, self.engine, StackedOptions(folds_per_group=self.folds_per_group),
                          self.save_checkpoints, self.for_seed(seed).to_dict())

    def input_key(self) -> tuple[Any, ...]:
        """What the loaded samples depend on: studies with equal keys share one load."""
        return (repr(dataclasses.asdict(self.dataset)), self.modality, repr(sorted(self.modality_options.items())),
                self.size, self.face, self.equalize)


@output_scope()  # the study's folder is locked until it ends
def run_study(
    spec: StudySpec,
    out: str | Path,
    inputs: Inputs,
    *,
    overwrite: bool = False,
    command: str = "",
    hooks: Hooks | None = None,
    only_folds: Collection[str] | None = None,
) -> dict[str, Any]:
    """Run every seed of ``spec`` on its ``inputs`` (:func:`~mesti.studies.inputs.load_samples`,
    loaded once by the caller and shared by the cells of one input) into ``out``, resuming
    finished folds; returns its metrics.

    ``only_folds`` (one seed only): record just these folds, return ``{}`` (see run_experiment);
    empty, it only writes the run's config and marks.
    """
    from mesti.studies.run import run_experiment, write_study_config

    spec.check()
    if only_folds is not None and len(spec.seeds) > 1:
        raise MestiError("only_folds", "names folds of one seed's run; give a one-seed spec")
    out = Path(out)
    experiments = {seed: spec.experiment(seed) for seed in spec.seeds}
    if len(spec.seeds) == 1:
        return run_experiment(inputs, experiments[spec.seeds[0]], out, command=command, overwrite=overwrite,
                              hooks=hooks, only_folds=only_folds)
    write_study_config(out, spec.to_dict(), command, overwrite)
    per_seed = {seed: run_experiment(inputs, experiment, out / f"seed-{seed}", command=command,
                                     hooks=hooks)
                for seed, experiment in experiments.items()}
    return write_seed_summary(out, per_seed)


_SCORES = ("accuracy", "uf1", "uar")


def write_seed_summary(out: Path, per_seed: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """``metrics.json`` (mean and standard deviation over seeds, each seed's numbers) and
    ``seeds.md`` in ``out``; metrics.json last, so it marks the study finished."""
    from mesti.utils.atomic import write_json, write_text
    from mesti.utils.markdown import md_text

    first = next(iter(per_seed.values()))
    summary: dict[str, Any] = {}
    for key in _SCORES:
        values = np.array([m[key] for m in per_seed.values()], dtype=float)
        summary[key] = float(values.mean())
        summary[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    summary.update({
        "n": first["n"], "classes": first["classes"],
        "protocol": f"{first['protocol']}; mean and standard deviation (n-1) over {len(per_seed)} seeds",
        "seeds": {str(s): {**{k: m[k] for k in _SCORES}, "run_dir": f"seed-{s}"} for s, m in per_seed.items()},
    })
    oracles = [m.get(ORACLE_KEY) for m in per_seed.values()]
    oracle_line: list[str] = []
    if all(oracles):
        leaky: dict[str, Any] = {"label": ORACLE_LABEL}
        for key in _SCORES:
            values = np.array([o[key] for o in oracles], dtype=float)
            leaky[key] = float(values.mean())
            leaky[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        summary[ORACLE_KEY] = leaky
        oracle_line = [f"{ORACLE_LABEL}: " + ", ".join(f"{k} {leaky[k]:.3f} +- {leaky[k + '_std']:.3f}" for k in _SCORES)
                       + " (mean +- sd over seeds; the table above is the honest figure).", ""]
    rows = [f"| {s} | " + " | ".join(f"{m[k]:.3f}" for k in _SCORES) + f" | [report](seed-{s}/report.md) |"
            for s, m in per_seed.items()]
    mean = " | ".join(f"**{summary[k]:.3f} +- {summary[k + '_std']:.3f}**" for k in _SCORES)
    write_text(out / "seeds.md", "\n".join([
        "# Over seeds", "", f"Protocol: {md_text(first['protocol'])}. Each seed is a full run (its own split when the protocol "
        "takes a seed, its own initialisation and batches).", "",
        "| seed | accuracy | UF1 | UAR | run |", "|---|---|---|---|---|", *rows, f"| mean +- sd | {mean} | |", "",
        *oracle_line]))
    write_json(out / "metrics.json", summary)
    return summary


def parse_seeds(text: str | None, seed: int | None) -> tuple[int, ...]:
    """``--seeds 0,1,2`` (or a single ``--seed``; both is an error) as a tuple of seeds."""
    if text is None:
        return (0 if seed is None else SEED.check(seed),)
    if seed is not None:
        raise MestiError("--seeds", "give either --seed or --seeds, not both")
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise MestiError("--seeds", f"{text!r} is not a comma-separated list of integers (e.g. 0,1,2)") from None
    if not seeds:
        raise MestiError("--seeds", "lists no seed")
    return tuple(SEED.check(s, "--seeds") for s in seeds)
