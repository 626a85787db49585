"""Markdown reports: one per run directory, and one summary table per grid.

A number in a report is only useful with the protocol that produced it (LOSO or hold-out,
pooled or per-fold), so every table here carries that description, and each run report ends
with the resolved config and the command that reproduces it.
"""

from __future__ import annotations

import io
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mesti.errors import MestiError
from mesti.reports.metrics import ORACLE_KEY, ORACLE_LABEL
from mesti.utils.atomic import write_text
from mesti.utils.markdown import md_code, md_text

SUMMARY_COLUMNS = ("dataset", "protocol", "modality", "model", "accuracy", "uf1", "uar", "n")
_SPREAD_SUFFIXES = ("_std", "_min", "_max")
_KEY_COLUMNS = SUMMARY_COLUMNS[:4]
_PROTOCOL_NAMES = {"loso": "LOSO", "holdout": "hold-out", "hold_out": "hold-out", "cross_dataset": "cross-dataset"}


def _fmt(value: Any, digits: int = 4) -> str:
    """A table cell: floats to ``digits`` places, missing values as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "-" if math.isnan(value) else f"{float(value):.{digits}f}"
    return md_text(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _name(value: Any) -> str | None:
    """A config entry as a name: a string, or a mapping's "name"."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        inner = value.get("name")
        return None if inner is None else str(inner)
    return str(value)


def _plain(value: Any) -> Any:
    """Config values as YAML-safe builtins (paths, numpy scalars and tuples included)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def describe_protocol(
    config: Mapping[str, Any], metrics: Mapping[str, Any], fold_metrics: Mapping[str, Any] | None = None
) -> str:
    """One phrase naming how the numbers were obtained, e.g. "LOSO, 26 folds, pooled predictions (n=255, 5 classes)".

    ``config["protocol"]`` is a name ("loso", "holdout", "cross_dataset") or a mapping with
    "name" and its parameters (test_fraction, repeats, train/test datasets, n_folds); the
    parameters may also sit at the top level of ``config``. A mapping's "description" (the
    protocol object's own sentence, with caveats such as subjects on both sides of a split)
    is used verbatim in place of the phrase built from the name.
    """
    raw = config.get("protocol")
    name = _name(raw)
    if not name:
        raise MestiError("config", "has no 'protocol': a report must say which protocol produced its numbers")
    params: dict[str, Any] = dict(config)
    if isinstance(raw, Mapping):
        params.update(raw)
    key = name.lower().replace("-", "_")
    holdout = key in ("holdout", "hold_out")
    description = raw.get("description") if isinstance(raw, Mapping) else None
    if description:
        parts = [str(description)]
    else:
        head = _PROTOCOL_NAMES.get(key, name)
        if holdout and params.get("test_fraction") is not None:
            test = round(100 * float(params["test_fraction"]))
            head += f" {100 - test}/{test}"
        if key == "cross_dataset":
            train, test_set = _name(params.get("train_dataset")), _name(params.get("test_dataset"))
            if train and test_set:
                head += f" (train {train}, test {test_set})"
        parts = [head]
        if holdout and params.get("repeats") not in (None, 1):
            parts.append(f"{params['repeats']} repeats")
    n_folds = fold_metrics.get("n_folds") if fold_metrics else params.get("n_folds")
    if n_folds is not None and not holdout:  # a hold-out's "folds" are its repeats
        parts.append(f"{n_folds} folds")
    if "pooled" not in parts[0].lower():
        parts.append(f"{metrics.get('aggregation', 'pooled')} predictions")
    n_classes = len(metrics.get("classes", []))
    return ", ".join(parts) + f" (n={metrics['n']}" + (f", {n_classes} classes)" if n_classes else ")")


def _title(config: Mapping[str, Any]) -> str:
    bits = [_name(config.get(k)) for k in ("dataset", "modality", "model")]
    shown = [b for b in bits if b]
    return "Run report" + (": " + " / ".join(shown) if shown else "")


def _command(config: Mapping[str, Any]) -> str | None:
    command = config.get("command")
    if command is None or command == "":
        return None
    if isinstance(command, str):
        return command
    return shlex.join(str(c) for c in command)


def _relative(path: str | os.PathLike[str], run_dir: Path) -> str:
    """A picture link that still works when the run directory is moved or copied."""
    p = Path(path)
    if p.is_absolute():
        p = Path(os.path.relpath(p, run_dir))
    return p.as_posix()


def _headline(metrics: Mapping[str, Any], protocol: str) -> str:
    rows = [(label, metrics[key], protocol) for key, label in (("accuracy", "accuracy"), ("uf1", "UF1"), ("uar", "UAR"))]
    return _table(("metric", "value", "protocol"), rows)


def _per_class(metrics: Mapping[str, Any]) -> str:
    rows = []
    for c in metrics["classes"]:
        m = metrics["per_class"][c]
        rows.append((c, m["support"], m["predicted"], m["tp"], m["fp"], m["fn"], m["precision"], m["recall"], m["f1"],
                     "yes" if m["in_truth"] else "excluded"))
    return _table(("class", "support", "predicted", "TP", "FP", "FN", "precision", "recall", "F1", "in UF1/UAR"), rows)


def _per_dataset(per_dataset: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [(name, m["n"], m["accuracy"], m["uf1"], m["uar"], ", ".join(m["excluded_classes"]) or "-")
            for name, m in per_dataset.items()]
    return _table(("dataset", "n", "accuracy", "UF1", "UAR", "excluded classes"), rows)


def _fold_section(fold_metrics: Mapping[str, Any]) -> list[str]:
    n_folds = fold_metrics["n_folds"]
    rows = [(key, fold_metrics[key], fold_metrics.get(key.replace("_mean_", "_std_")))
            for key in ("fold_mean_accuracy", "fold_mean_uf1", "fold_mean_uar")]
    out = [
        f"## Per-fold averages ({n_folds} folds; NOT the pooled figures above)",
        "",
        "Each fold scored on its own test samples, then averaged over folds. Per-fold UF1 and UAR "
        "average only the classes present in that fold, so these differ from the pooled UF1/UAR "
        "and are reported only under these names.",
        "",
        _table(("name", "mean over folds", "std over folds"), rows),
        "",
    ]
    folds = fold_metrics.get("folds") or {}
    if folds:
        detail = [(fold, f["n"], f["accuracy"], f["uf1"], f["uar"]) for fold, f in folds.items()]
        out += ["<details><summary>Each fold</summary>", "",
                _table(("fold", "n", "accuracy", "UF1", "UAR"), detail), "", "</details>", ""]
    return out


def skip_line(skip: Mapping[str, str]) -> str:
    """``clip key: why`` for one skipped clip (the error names a file when a frame was at fault)."""
    key, error = str(skip.get("key", "")), str(skip.get("error", ""))
    return error if error.startswith(key) else f"{key}: {error}"


def _skipped_section(config: Mapping[str, Any]) -> list[str]:
    """Clips left out because they could not be prepared: a smaller dataset says so."""
    skipped = (config.get("prepare") or {}).get("skipped") or []
    if not skipped:
        return []
    lines = ["## Skipped clips", "", f"**{len(skipped)} clip(s)** of the dataset could not be prepared and are "
             "not in these numbers (`--strict` makes this an error):", ""]
    lines += [f"- {md_text(skip_line(s))}" for s in skipped]
    return lines + [""]


def write_run_report(
    run_dir: str | os.PathLike[str],
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    fold_metrics: Mapping[str, Any] | None,
    pictures: Mapping[str, str | os.PathLike[str]],
) -> Path:
    """Write ``run_dir/report.md`` and return its path.

    ``metrics`` is :func:`mesti.reports.metrics.compute_metrics` output, ``fold_metrics``
    :func:`~mesti.reports.metrics.per_fold_metrics` output (or None), ``pictures`` maps a
    caption to a picture path (relative to ``run_dir``; absolute paths are made relative).
    """
    run = Path(run_dir)
    protocol = describe_protocol(config, metrics, fold_metrics)
    lines = [f"# {md_text(_title(config))}", "", f"**Protocol:** {md_text(protocol)}", ""]
    lines += [f"## Results: {md_text(protocol)}", "", _headline(metrics, protocol), ""]
    oracle = metrics.get(ORACLE_KEY)
    if oracle:
        epochs = ", ".join(f"{md_text(fold)} {e}" for fold, e in oracle["epochs"].items())
        lines += ["## Leaky oracle (not an estimate)", "",
                  f"**{oracle['label']}.** The figures above are the honest ones; these pool each fold's test "
                  "predictions at the epoch with its best test accuracy, which reads the test labels to choose:", "",
                  _table(("metric", "honest", "oracle (leaky)"),
                         [(label, metrics[key], oracle[key]) for key, label in
                          (("accuracy", "accuracy"), ("uf1", "UF1"), ("uar", "UAR"))]), "",
                  f"Epoch chosen on the test subject per fold: {epochs}.", ""]
    lines += [
        "UF1 and UAR are means of per-class F1 and recall over the classes present in the pooled "
        f"ground truth ({metrics['n_classes_averaged']} of {len(metrics['classes'])}).",
        "",
        f"## Per class: {md_text(protocol)}",
        "",
        _per_class(metrics),
        "",
    ]
    if metrics["excluded_classes"]:
        lines += ["## Excluded classes", "",
                  f"**{', '.join(md_text(c) for c in metrics['excluded_classes'])}**: {metrics['excluded_note']}.", ""]
    if metrics.get("per_dataset"):
        lines += [f"## Per dataset: {md_text(protocol)}, split by dataset", "", _per_dataset(metrics["per_dataset"]), ""]
    lines += _skipped_section(config)
    if fold_metrics:
        lines += _fold_section(fold_metrics)
    if pictures:
        lines += ["## Pictures", ""]
        for caption, path in pictures.items():
            lines += [f"### {md_text(caption)}", "", f"![{md_text(caption)}]({_relative(path, run)})", ""]
    config_yaml = yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True).rstrip()
    lines += ["## Resolved config", "", md_code(config_yaml, "yaml"), ""]
    command = _command(config)
    lines += ["## Reproduce", ""]
    lines += [md_code(command, "bash"), ""] if command else ["The config records no command.", ""]
    return write_text(run / "report.md", "\n".join(lines))


def _summary_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    if not rows:
        raise MestiError("grid summary", "no rows given")
    for i, row in enumerate(rows):
        missing = [k for k in _KEY_COLUMNS if row.get(k) in (None, "")]
        if missing:
            raise MestiError(f"summary row {i}", f"missing {', '.join(missing)}")
    keys = list(dict.fromkeys(k for row in rows for k in row))
    spreads = [k for k in keys if k.endswith(_SPREAD_SUFFIXES) and k not in SUMMARY_COLUMNS]
    others = [k for k in keys if k not in SUMMARY_COLUMNS and k not in spreads]
    columns = list(SUMMARY_COLUMNS) + spreads + others
    records = [{c: str(row[c]) if c in _KEY_COLUMNS else _plain(row.get(c)) for c in columns} for row in rows]
    return pd.DataFrame(records, columns=columns)


def _pivot(frame: pd.DataFrame, dataset: Any, protocol: Any) -> str:
    part = frame[(frame["dataset"] == dataset) & (frame["protocol"] == protocol)]
    dupes = part[part.duplicated(["modality", "model"], keep=False)]
    if not dupes.empty:
        first = dupes.iloc[0]
        raise MestiError("grid summary", f"two rows for {dataset}, {protocol}, {first['modality']}, {first['model']}")
    modalities = list(dict.fromkeys(part["modality"]))
    models = list(dict.fromkeys(part["model"]))
    cells = {(r.modality, r.model): f"{_fmt(r.uf1, 3)} / {_fmt(r.uar, 3)}" for r in part.itertuples()}
    body = [[m] + [cells.get((m, net), "-") for net in models] for m in modalities]
    return _table(["modality \\ model", *(md_text(net) for net in models)], body)


def write_summary(
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    pictures: Mapping[str, str | os.PathLike[str]] | None = None,
) -> tuple[Path, Path]:
    """Write a grid's results as ``summary.md`` and ``summary.csv`` in ``out_dir``.

    One row per grid cell with at least dataset, protocol, modality and model; accuracy, uf1,
    uar and n follow, then spread columns (``*_std``, ``*_min``, ``*_max``), then any other
    keys. The markdown adds, for each (dataset, protocol), a modality x model pivot of
    "UF1 / UAR" like the paper's tables, and embeds ``pictures`` (caption to path relative to
    ``out_dir``), e.g. the bar chart.
    """
    out = Path(out_dir)
    frame = _summary_frame(rows)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    columns = list(frame.columns)
    lines = ["# Grid summary", "",
             "One row per grid cell; its run report says how the numbers were aggregated (pooled "
             "predictions for LOSO). `*_std` columns are spreads over repeats or folds.", "",
             _table(columns, [[_plain(row.get(c)) for c in columns] for row in rows]), ""]
    if any(c.startswith(ORACLE_KEY) for c in columns):
        lines[3:3] = [f"`{ORACLE_KEY}_*` columns: {ORACLE_LABEL}. accuracy, uf1 and uar are the honest figures.", ""]
    for dataset, protocol in dict.fromkeys(zip(frame["dataset"], frame["protocol"], strict=True)):
        lines += [f"## {md_text(dataset)}, {md_text(protocol)}: UF1 / UAR", "", _pivot(frame, dataset, protocol), ""]
    for caption, path in (pictures or {}).items():
        lines += [f"![{md_text(caption)}]({_relative(path, out)})", ""]
    # both built before either is written, so a bad grid leaves neither file
    csv_path = write_text(out / "summary.csv", buf.getvalue())
    md_path = write_text(out / "summary.md", "\n".join(lines))
    return md_path, csv_path
