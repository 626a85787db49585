"""``mesti paper report``: the paper's figure beside ours for every cell, with both protocols.

Each row is in the unit the paper printed its figure in (``unit`` of the shipped figures:
percent or a fraction); the paper's text is shown as printed and ours, its spread and the
difference (ours minus the paper's) in the same unit. A cell the paper has no figure for
shows accuracy in percent and UF1 / UAR as fractions. Our figure is the honest one (pooled
predictions, nothing chosen on test data); a hold-out with repeats adds its spread, a run
over several seeds the spread over seeds. With ``--report-oracle`` a last column adds the
leaky figure (each fold's best epoch chosen on its test subject), labelled as such. Every
row names the data it ran on; a synthetic stand-in (made by ``mesti synth``) says so, in the
row and in the report's title.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mesti.errors import MestiError  # noqa: E402
from mesti.paper.results import load_paper_results  # noqa: E402
from mesti.paper.studies import load_study  # noqa: E402
from mesti.reports.metrics import ORACLE_KEY, ORACLE_LABEL, read_metrics  # noqa: E402
from mesti.utils.atomic import write_bytes, write_text  # noqa: E402
from mesti.utils.outputs import SYNTH_MARKER  # noqa: E402
from mesti.utils.markdown import md_text  # noqa: E402
from mesti.utils.yamlfile import read_yaml  # noqa: E402

METRICS = ("uf1", "uar", "accuracy")
PERCENT, FRACTION = "%", "fraction"
NOT_PRINTED = "not printed"
_NAME = {"uf1": "UF1", "uar": "UAR", "accuracy": "accuracy"}
#: Dataset entry keys that hold a root (a composite names one per dataset).
_ROOT_KEYS = ("root", "casme2_root", "samm_root", "smic_root")


def _default_unit(metric: str) -> str:
    """The unit of a figure the paper does not print: accuracy in percent, UF1 / UAR as fractions."""
    return PERCENT if metric == "accuracy" else FRACTION


def _in_unit(unit: str, value: float) -> float:
    """A 0..1 figure in ``unit``."""
    return value * 100 if unit == PERCENT else value


def _label(metric: str, unit: str) -> str:
    return _NAME[metric] + (" %" if unit == PERCENT else "")


def _fmt(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if unit == PERCENT else f"{value:.3f}"


def data_of(dataset: dict[str, Any]) -> str:
    """Where a grid dataset entry's data lies, and whether it is a synthetic stand-in."""
    roots = list(dict.fromkeys(str(dataset[k]) for k in _ROOT_KEYS if dataset.get(k)))
    synthetic = [r for r in roots if (Path(r) / SYNTH_MARKER).is_file()]
    where = ", ".join(roots) or "?"
    if synthetic and len(synthetic) == len(roots):
        return f"synthetic stand-in at {where}"
    if synthetic:
        return f"{where} (synthetic stand-in: {', '.join(synthetic)})"
    return where


def _cells(study_dir: Path) -> list[dict[str, Any]]:
    """Every cell of every part of one study run: its grid entries and its metrics (or None)."""
    from mesti.studies.grid import cell_dir

    cells = []
    for part in sorted(study_dir.glob("part*.yaml")):
        spec = read_yaml(part)
        out = study_dir / part.stem
        for d in spec["datasets"]:
            for p in spec["protocols"]:
                for modality in spec["modalities"]:
                    for model in spec["models"]:
                        run = cell_dir(out, d, p, modality, model)
                        metrics_file = run / "metrics.json"
                        metrics = read_metrics(metrics_file) if metrics_file.is_file() else None
                        cells.append({"dataset": d, "protocol": p, "modality": modality, "model": model,
                                      "run_dir": run, "metrics": metrics, "size": spec.get("size"),
                                      "img_size": spec.get("img_size"), "epochs": (spec.get("training") or {}).get("epochs")})
    return cells


def _cell_for(cells: list[dict[str, Any]], row: Any) -> dict[str, Any] | None:
    for c in cells:
        d = c["dataset"]
        if (d["name"], int(d.get("classes") or 0), c["model"], c["modality"]) == (row.dataset, row.classes, row.model, row.modality):
            return c
    return None


def _ours(cell: dict[str, Any] | None, metric: str, unit: str) -> tuple[float | None, float | None]:
    if cell is None or cell["metrics"] is None:
        return None, None
    m = cell["metrics"]
    value = _in_unit(unit, float(m[metric]))
    if "seeds" in m:  # several seeds: the spread over seeds (write_seed_summary)
        return value, _in_unit(unit, float(m[f"{metric}_std"]))
    sd = (m.get("per_fold") or {}).get(f"fold_std_{metric}") if cell["protocol"].get("name") == "holdout" else None
    return value, (_in_unit(unit, float(sd)) if sd is not None and int(cell["protocol"].get("repeats", 1)) > 1 else None)


def _oracle(cell: dict[str, Any] | None, metric: str, unit: str) -> float | None:
    """The leaky per-fold best-test-epoch figure, where the run recorded it (--report-oracle)."""
    leaky = ((cell or {}).get("metrics") or {}).get(ORACLE_KEY)
    return _in_unit(unit, float(leaky[metric])) if leaky else None


def compare(runs: str | Path) -> list[dict[str, Any]]:
    """One row per paper figure (and per cell of ours that the paper has no figure for)."""
    runs = Path(runs)
    studies = sorted(p for p in runs.iterdir() if p.is_dir() and any(p.glob("part*.yaml"))) if runs.is_dir() else []
    if not studies:
        raise MestiError(runs, "no study runs here (expected folders such as table1/ made by `mesti paper run`)")
    paper = load_paper_results()
    rows: list[dict[str, Any]] = []
    for study_dir in studies:
        study = load_study(study_dir.name)
        cells = _cells(study_dir)
        used: set[int] = set()
        for r in paper[paper["table"].isin(study.figures)].itertuples():
            cell = _cell_for(cells, r)
            if cell is not None:
                used.add(id(cell))
            ours, sd = _ours(cell, r.metric, r.unit)
            why = "not in this run" if cell is None else "cell unfinished" if cell["metrics"] is None else ""
            paper_value = _in_unit(r.unit, r.value)
            rows.append({"study": study.name, "row": r.row, "dataset": r.dataset, "classes": r.classes, "model": r.model,
                         "modality": r.modality, "metric": r.metric, "unit": r.unit, "paper": paper_value,
                         "printed": r.printed, "quoted_from": r.quoted_from, "paper_protocol": r.protocol,
                         "ours": ours, "ours_sd": sd, "difference": None if ours is None else ours - paper_value,
                         "oracle_leaky": _oracle(cell, r.metric, r.unit),
                         "our_protocol": (cell["metrics"] or {}).get("protocol", "") if cell else "",
                         "n": (cell["metrics"] or {}).get("n") if cell else None,
                         "data": data_of(cell["dataset"]) if cell else "", "why": why, "note": r.note})
        for cell in cells:
            if id(cell) in used or cell["metrics"] is None:
                continue
            d = cell["dataset"]
            label = d["name"] + (f" {cell['protocol'].get('train_dataset')}->{cell['protocol'].get('test_dataset')}"
                                 if cell["protocol"].get("name") == "cross" else "")
            for metric in METRICS:
                unit = _default_unit(metric)
                ours, sd = _ours(cell, metric, unit)
                rows.append({"study": study.name, "row": label, "dataset": d["name"], "classes": d.get("classes"),
                             "model": cell["model"], "modality": cell["modality"], "metric": metric, "unit": unit,
                             "paper": None, "printed": "", "quoted_from": "", "paper_protocol": "",
                             "ours": ours, "ours_sd": sd, "difference": None,
                             "oracle_leaky": _oracle(cell, metric, unit),
                             "our_protocol": cell["metrics"].get("protocol", ""), "n": cell["metrics"].get("n"),
                             "data": data_of(d), "why": NOT_PRINTED, "note": ""})
    return rows


def _settings(study_dir: Path) -> str:
    parts = []
    for part in sorted(study_dir.glob("part*.yaml")):
        spec = read_yaml(part)
        roots = ", ".join(f"{md_text(d['name'])}: {md_text(data_of(d))}" for d in spec["datasets"])
        training = spec.get("training") or {}
        seeds = f", seeds {', '.join(str(x) for x in spec['seeds'])}" if spec.get("seeds") else ""
        parts.append(f"{md_text(part.name)}: {roots}; epochs {md_text(training.get('epochs', 50))}, face crop "
                     f"{md_text(spec.get('size', 224))} px, network input {md_text(spec.get('img_size') or 'the model default')}, "
                     f"{md_text(training.get('recipe', 'paper'))} recipe{md_text(seeds)}")
    return "; ".join(parts)


def _on_axis(row: dict[str, Any], key: str, scale: float) -> float:
    """A row's figure (in its own unit) on an axis that runs 0..``scale``."""
    return float(row[key]) / (100.0 if row["unit"] == PERCENT else 1.0) * scale


def scatter_png(rows: list[dict[str, Any]], path: Path) -> Path:
    """Ours against the paper's, one point per figure, the diagonal where they agree."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, metrics, scale, title in ((axes[0], ("accuracy",), 100.0, "accuracy %"), (axes[1], ("uf1", "uar"), 1.0, "UF1 / UAR")):
        for metric, marker in zip(metrics, "os"):
            pts = [(_on_axis(r, "paper", scale), _on_axis(r, "ours", scale))
                   for r in rows if r["metric"] == metric and r["paper"] is not None and r["ours"] is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.scatter(xs, ys, marker=marker, label=_NAME[metric], alpha=0.7)
        ax.plot([0, scale], [0, scale], color="grey", lw=0.8)
        ax.set_xlim(0, scale)
        ax.set_ylim(0, scale)
        ax.set_xlabel("paper")
        ax.set_ylabel("ours (honest, pooled)")
        ax.set_title(title)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=100)
    finally:
        plt.close(fig)
    return write_bytes(path, buf.getvalue())


def write_paper_report(runs: str | Path) -> Path:
    """``RUNS/paper_report.md`` (+ ``paper_report.png``, ``paper_report.csv``); returns the markdown path."""
    import pandas as pd

    runs = Path(runs)
    rows = compare(runs)
    picture = scatter_png(rows, runs / "paper_report.png")
    data = [r["data"] for r in rows if r["data"]]
    synthetic = sum("synthetic stand-in" in d for d in data)
    title = "# The paper's figures beside ours"
    if data and synthetic == len(data):
        title += ", on synthetic stand-ins (not the real datasets)"
    elif synthetic:
        title += ", partly on synthetic stand-ins (see each row's data)"
    lines = [title, "",
             "Paper: arXiv 2509.00056 as printed. Ours: honest figures (pooled predictions, no epoch or checkpoint "
             "chosen on test data) on the data named in each row; on synthetic stand-ins they show that the "
             "study runs, not how the method does on the real datasets. Each row is in the unit the paper printed "
             "its figure in (\"accuracy %\" in percent; \"accuracy\", UF1 and UAR as fractions); "
             "difference = ours - paper in that unit. Why published figures tend to be higher: docs/protocols.md.", "",
             f"![paper against ours]({picture.name})", ""]
    for study in dict.fromkeys(r["study"] for r in rows):
        s = load_study(study)
        members = [r for r in rows if r["study"] == study]
        lines += [f"## {s.title}", ""]
        if s.note:
            lines += [f"Note: {s.note}.", ""]
        lines += [f"Run: {_settings(runs / study)}.", ""]
        for side, key in (("Paper", "paper_protocol"), ("Ours", "our_protocol")):
            protocols = sorted({r[key] for r in members if r[key]})
            if protocols:
                lines.append(f"- {side}: " + "; ".join(md_text(p) for p in protocols))
        leaky = any(r["oracle_leaky"] is not None for r in members)
        if leaky:
            lines += ["", f"Column \"oracle (leaky)\": {ORACLE_LABEL}. \"ours\" and the difference are the honest figures."]
        lines += ["", "| row | dataset | model | modality | metric | paper | ours | difference | n (ours) | data |"
                  + (" oracle (leaky) |" if leaky else ""), "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if leaky else "")]
        for r in members:
            unit = r["unit"]
            ours = _fmt(unit, r["ours"]) + (f" +- {_fmt(unit, r['ours_sd'])}" if r["ours_sd"] is not None else "")
            if r["ours"] is None:
                ours = f"- ({md_text(r['why'])})"
            paper_cell = (r["printed"] or _fmt(unit, r["paper"])) if r["paper"] is not None else f"- ({r['why']})"
            if r["quoted_from"]:
                paper_cell += " (quoted)"
            diff = "-" if r["difference"] is None else f"{r['difference']:+.2f}" if unit == PERCENT else f"{r['difference']:+.3f}"
            lines.append(f"| {md_text(r['row'])} | {md_text(r['dataset'])} ({md_text(r['classes'])} cl.) | {md_text(r['model'])} | "
                         f"{md_text(r['modality'])} | {_label(r['metric'], unit)} | {md_text(paper_cell)} | {ours} | {diff} | "
                         f"{r['n'] if r['n'] is not None else '-'} | {md_text(r['data'] or '-')} |"
                         + (f" {_fmt(unit, r['oracle_leaky'])} |" if leaky else ""))
        quoted = list(dict.fromkeys(r["quoted_from"] for r in members if r["quoted_from"]))
        if quoted:
            lines += ["", "(quoted): the paper quotes this figure from another study, which ran it, not the paper's "
                      "authors: " + "; ".join(md_text(q) for q in quoted) + "."]
        lines.append("")
    write_bytes(runs / "paper_report.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    return write_text(runs / "paper_report.md", "\n".join(lines))
