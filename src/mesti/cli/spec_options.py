"""One option set for ``mesti loso``, ``holdout``, ``train`` and ``config show``, generated
from a table of the study file's fields.

Each :class:`SpecOption` names the dotted key of a cell file (:mod:`mesti.studies.cell`) it
sets; the commands' Typer signatures are built from the table, so a field is declared once
for every command. A command resolves its study in layers, each over the one before: the
command line's defaults, ``--config FILE``, ``KEY=VALUE`` overrides, then the flags given.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from mesti.cli.common import MANIFEST_HELP, command_line
from mesti.errors import MestiError
from mesti.studies.cell import StudyCell, parse_override, read_cell, set_key
from mesti.studies.spec import parse_seeds

STUDY = ("loso", "holdout", "show")
ALL = ("loso", "holdout", "train", "show")


@dataclass(frozen=True)
class SpecOption:
    """A flag: its name (``batch_size`` is ``--batch-size``), the cell-file key it sets
    (``None``: how the command runs, not what it studies), its type and help, and the
    commands that have it. ``default`` is the command line's own (``None``: the spec's)."""

    name: str
    key: str | None
    kind: Any
    help: str
    commands: tuple[str, ...] = ALL
    short: str | None = None
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[SpecOption, ...] = (
    SpecOption("dataset", "dataset.name", str | None, "casme2, samm, smic, composite, folder, images, ...", short="-d"),
    SpecOption("root", "dataset.root", Path | None, "The dataset folder as distributed (or a synthetic dataset)."),
    SpecOption("sheet", "dataset.sheet", Path | None, "The coding sheet, when not inside --root."),
    SpecOption("manifest", "dataset.manifest", Path | None, MANIFEST_HELP),
    SpecOption("classes", "dataset.classes", int | None, "3 (negative/positive/surprise) or 5 (default: the dataset's own)."),
    SpecOption("modality", "modality", str | None, "Input modality (not needed for precomputed images).", short="-m"),
    SpecOption("model", "model", str | None, "A name from `mesti models` (default meganet)."),
    SpecOption("epochs", "training.epochs", int | None, "Training epochs (default 50, the paper's)."),
    SpecOption("batch_size", "training.batch_size", int | None, "Batch size (default 32)."),
    SpecOption("lr", "training.lr", float | None, "Adam learning rate (default 1e-3)."),
    SpecOption("img_size", "img_size", int | None, "Network input size (default: the model's own, 224 for MEGANet)."),
    SpecOption("size", "size", int | None, "Face crop size of the prepared images (default 224); precomputed images "
               "keep their own size unless given."),
    SpecOption("seed", "seeds", int | None, "The seed of the split (when seeded) and the training (default 0)."),
    SpecOption("seeds", "seeds", str | None, "Several seeds, e.g. 0,1,2: each a full run in OUT/seed-<s>; "
               "OUT/metrics.json and OUT/seeds.md give the mean and standard deviation.", STUDY),
    SpecOption("cache", "dataset.cache", Path | None, "Modality cache (default $MESTI_CACHE or ~/.cache/mesti)."),
    SpecOption("face", "face", str | None, "dlib-hog (default), haar, or none (frames are already face crops)."),
    SpecOption("equalize", "equalize", str | None, "Histogram equalisation: frame (paper, default), clip, off."),
    SpecOption("device", "training.device", str | None, "auto (default), cpu, cuda, cuda:1 ..."),
    SpecOption("val_fraction", "training.val_fraction", float | None, "Early stopping on this fraction of the "
               "TRAINING subjects (default 0: fixed schedule)."),
    SpecOption("recipe", "training.recipe", str | None, "paper (default; docs/method.md, Training) or native (the "
               "network's own paper)."),
    SpecOption("report_oracle", "training.report_oracle", bool, "Also record each fold's test predictions at every "
               "epoch and report, beside the honest figure and labelled as leaky, what choosing each fold's best "
               "epoch on its test subject would give (as some published code does; docs/protocols.md).", STUDY,
               default=False),
    SpecOption("save_checkpoints", "save_checkpoints", bool, "Keep each fold's weights for `mesti predict`.", STUDY,
               default=False),
    SpecOption("folds", "protocol.k", int | None, "Subject-wise k-fold instead of one fold per subject.",
               ("loso", "show")),
    SpecOption("test_fraction", "protocol.test_fraction", float | None, "Hold-out: the test share (default 0.1).",
               ("holdout", "show")),
    SpecOption("repeats", "protocol.repeats", int | None, "Seeded repeated splits: mean and spread are reported "
               "(default 1).", ("holdout", "show")),
    SpecOption("by_sample", "protocol.by_subject", bool, "Split by sample as the paper's Table I (subjects on both "
               "sides; reported as such).", ("holdout", "show"), default=False),
    SpecOption("engine", "engine", str | None, "sequential (one fold after another), stacked (many folds at once, "
               "torch.func + vmap), or auto: sequential, on CUDA too until the GPU check "
               "(benchmarks/gpu_check.sh) has measured the stacked engine there (the default).", STUDY),
    SpecOption("folds_per_group", "folds_per_group", int | None, "Stacked engine: folds trained together (default: as "
               "many as half the free memory holds, by estimate).", STUDY),
    SpecOption("executor", "executor.name", str | None, "local (default; this process) or ray (a Ray task; needs the "
               "extra mesti\\[ray]).", STUDY),
    SpecOption("address", "executor.address", str | None, "Ray cluster to use with --executor ray (auto, HOST:PORT); "
               "default: start Ray on this machine.", STUDY),
    SpecOption("fold_tasks", "executor.fold_tasks", int | None, "With --executor ray and --engine sequential: split "
               "the study into this many Ray tasks, each a group of folds.", STUDY),
    # How the command runs, not what it studies: never in a study file.
    SpecOption("out", None, Path, "Run directory (resumes when it exists).", ("loso", "holdout"), short="-o", default=...),
    SpecOption("out", None, Path, "The bundle folder to write (it appears whole or not at all).", ("train",), short="-o",
               default=...),
    SpecOption("overwrite", None, bool, "Start again even if --out holds a run.", ("loso", "holdout"), default=False),
    SpecOption("overwrite", None, bool, "Replace an existing bundle at --out.", ("train",), default=False),
    SpecOption("workers", None, int | None, "Processes for preparing the modality.", ("loso", "holdout", "train")),
    SpecOption("strict", None, bool, "A clip that cannot be prepared is an error (exit 2), not a skip.",
               ("loso", "holdout"), default=False),
    SpecOption("estimate", None, Path | None, "A finished `mesti loso` run with the same settings: its figures go "
               "into the bundle as the expected performance.", ("train",)),
)

#: What the command line sets when nothing (file, override, flag) gives it.
_DEFAULTS = {"training": {"device": "auto", "val_fraction": 0.0, "recipe": "paper"}}
_PROTOCOL_DEFAULTS = {"loso": {"name": "loso"}, "holdout": {"name": "holdout", "test_fraction": 0.1, "repeats": 1,
                                                             "by_subject": True}}
_PROTOCOLS = {"loso": ("loso", "kfold"), "holdout": ("holdout",)}


@dataclass(frozen=True)
class RunOptions:
    """The options of a command that say how it runs (``key`` None in the table)."""

    out: Path | None = None
    overwrite: bool = False
    workers: int | None = None
    strict: bool = False
    estimate: Path | None = None


@dataclass(frozen=True)
class Request:
    """A command's resolved study and how to run it."""

    cell: StudyCell
    run: RunOptions
    command: str


def options_for(command: str) -> list[SpecOption]:
    return [o for o in OPTIONS if command in o.commands]


def _given(values: Mapping[str, Any], flags: set[str], command: str) -> dict[str, Any]:
    """The flags given on the command line as a cell mapping."""
    layer: dict[str, Any] = {}
    if "seed" in flags or "seeds" in flags:
        layer["seeds"] = list(parse_seeds(values.get("seeds"), values.get("seed")))
    for o in options_for(command):
        if o.key is None or o.name not in flags or o.key == "seeds":
            continue
        value = values[o.name]
        if o.name == "folds":
            set_key(layer, "protocol.name", "kfold")
        elif o.key.startswith("protocol."):  # a hold-out option: the protocol is a hold-out
            set_key(layer, "protocol.name", "holdout")
        if o.name == "by_sample":  # --by-sample: by_subject false
            value = not value
        elif o.name == "report_oracle" and not value:
            continue
        set_key(layer, o.key, str(value) if isinstance(value, Path) else value)
    return layer


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, mappings key by key; a protocol or executor of another name replaces it."""
    out = dict(base)
    for key, value in top.items():
        if key in ("protocol", "executor"):
            value = {"name": value} if isinstance(value, str) else value
            old = out.get(key)
            old = {"name": old} if isinstance(old, str) else old
            if isinstance(old, Mapping) and isinstance(value, Mapping) and value.get("name", old.get("name")) != old.get("name"):
                old = None
            out[key] = _merge(dict(old), value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _layers(command: str, config: Path | None, overrides: list[str], flags: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    layers = [(str(config), read_cell(config))] if config is not None else []
    for text in overrides:
        key, value = parse_override(text)
        layer: dict[str, Any] = {}
        set_key(layer, key, value)
        layers.append((text, layer))
    return [*layers, ("", flags)]


def resolve(command: str, config: Path | None, overrides: list[str], values: Mapping[str, Any],
            given: set[str]) -> StudyCell:
    """The study of ``command``: its defaults, the config file, the overrides, the flags given."""
    layers = _layers(command, config, overrides, _given(values, given, command))
    data: dict[str, Any] = {}
    for _, layer in layers:
        data = _merge(data, layer)
    name = (data.get("protocol") or {}).get("name") if isinstance(data.get("protocol"), Mapping) else data.get("protocol")
    kind = command if command in _PROTOCOLS else ("holdout" if name == "holdout" else "loso")
    if command == "train":  # one training on every subject: never split, one seed, the sequential engine
        if len(data.get("seeds") or [0]) != 1:
            raise MestiError("seeds", "mesti train trains one model: give one seed")
        data["protocol"], data["engine"] = {"name": "loso"}, "sequential"
        if data.get("executor") not in (None, "local", {"name": "local"}):
            raise MestiError("executor", "mesti train runs in this process; leave the executor out")
    elif name is not None and name not in _PROTOCOLS[kind]:
        raise MestiError("protocol", f"{name} is not a protocol of mesti {kind}; it takes {' or '.join(_PROTOCOLS[kind])}")
    data = _merge(_merge(_DEFAULTS, {"protocol": _PROTOCOL_DEFAULTS[kind]}), data) if command != "train" else \
        _merge(_DEFAULTS, data)
    try:
        cell = StudyCell.from_dict(data)
        cell.study.check()  # unknown names and bad options, located in the file or override that gave them
        return cell
    except MestiError as exc:
        raise _located(exc, layers) from None


def _located(exc: MestiError, layers: list[tuple[str, dict[str, Any]]]) -> MestiError:
    """The error with the file or override that set the key at fault (a flag names itself)."""
    keys = re.findall(r"[a-z_]+(?:\.[a-z_]+)*", exc.where)
    for source, layer in reversed(layers):
        for key in keys:
            node: Any = layer
            for part in key.split("."):
                node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
            if node is not _MISSING:
                return MestiError(f"{source}: {exc.where}", exc.what) if source else exc
    return exc


_MISSING = object()


def study_command(command: str, body: Callable[[Request], None], doc: str) -> Callable[..., None]:
    """A Typer command whose options are the table's for ``command``, plus ``--config FILE``
    and ``KEY=VALUE`` overrides; ``body`` gets the resolved :class:`Request`."""

    def run(ctx: typer.Context, **values: Any) -> None:
        given = {name for name in values if getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"}
        cell = resolve(command, values.pop("config"), list(values.pop("overrides") or []), values, given)
        run_values = {o.name: values[o.name] for o in options_for(command) if o.key is None}
        body(Request(cell, RunOptions(**run_values), command_line()))

    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
              inspect.Parameter("overrides", inspect.Parameter.KEYWORD_ONLY, annotation=list[str] | None,
                                default=typer.Argument(None, metavar="[KEY=VALUE]...", show_default=False,
                                                       help="Overrides of the study's keys, e.g. training.epochs=3.")),
              inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                                default=typer.Option(None, "--config", help="A study file (one cell of a grid file: "
                                                     "dataset, modality, model, training, seeds ...); flags override it."))]
    for o in options_for(command):
        decls = [o.flag, *([o.short] if o.short else [])]
        params.append(inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=o.kind,
                                        default=typer.Option(o.default, *decls, help=o.help, show_default=False)))
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__doc__ = doc
    run.__name__ = f"{command}_cmd"
    return run
