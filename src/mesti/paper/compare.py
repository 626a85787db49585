"""``mesti paper report``: the paper's figure beside ours for every cell, with both protocols.

Accuracy is shown in percent and UF1 / UAR as fractions, as the paper prints them; the
difference is ours minus the paper's in that unit. Our figure is the honest one (pooled
predictions, nothing chosen on test data); a hold-out with repeats adds its spread, a run
over several seeds the spread over seeds. With ``--report-oracle`` a last column adds the
leaky figure (each fold's best epoch chosen on its test subject), labelled as such.
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
from mesti.utils.markdown import md_text  # noqa: E402
from mesti.utils.yamlfile import read_yaml  # noqa: E402

METRICS = ("uf1", "uar", "accuracy")
_LABEL = {"uf1": "UF1", "uar": "UAR", "accuracy": "accuracy %"}


def _as_printed(metric: str, value: float) -> float:
    return value * 100 if metric == "accuracy" else value


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if metric == "accuracy" else f"{value:.3f}"


def _cells(study_dir: Path) -> list[dict[str, Any]]:
    """Every cell of every part of one study run: its grid entries and its metrics (or None)."""
    from mesti.training.grid import cell_dir

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


def _ours(cell: dict[str, Any] | None, metric: str) -> tuple[float | None, float | None]:
    if cell is None or cell["metrics"] is None:
        return None, None
    m = cell["metrics"]
    value = _as_printed(metric, float(m[metric]))
    if "seeds" in m:  # several seeds: the spread over seeds (write_seed_summary)
        return value, _as_printed(metric, float(m[f"{metric}_std"]))
    sd = (m.get("per_fold") or {}).get(f"fold_std_{metric}") if cell["protocol"].get("name") == "holdout" else None
    return value, (_as_printed(metric, float(sd)) if sd is not None and int(cell["protocol"].get("repeats", 1)) > 1 else None)


def _oracle(cell: dict[str, Any] | None, metric: str) -> float | None:
    """The leaky per-fold best-test-epoch figure, where the run recorded it (--report-oracle)."""
    leaky = ((cell or {}).get("metrics") or {}).get(ORACLE_KEY)
    return _as_printed(metric, float(leaky[metric])) if leaky else None


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
        for r in paper[paper["table"] == study.name].itertuples():
            cell = _cell_for(cells, r)
            if cell is not None:
                used.add(id(cell))
            ours, sd = _ours(cell, r.metric)
            why = ""
            if cell is None:
                why = "not in this run" if r.modality != "affective_motion" else "no public definition"
            elif cell["metrics"] is None:
                why = "cell unfinished"
            paper_value = _as_printed(r.metric, r.value)
            rows.append({"study": study.name, "row": r.row, "dataset": r.dataset, "classes": r.classes, "model": r.model,
                         "modality": r.modality, "metric": r.metric, "paper": paper_value, "printed": r.printed, "paper_protocol": r.protocol,
                         "ours": ours, "ours_sd": sd, "difference": None if ours is None else ours - paper_value,
                         "oracle_leaky": _oracle(cell, r.metric),
                         "our_protocol": (cell["metrics"] or {}).get("protocol", "") if cell else "",
                         "n": (cell["metrics"] or {}).get("n") if cell else None, "why": why, "note": r.note})
        for cell in cells:
            if id(cell) in used or cell["metrics"] is None:
                continue
            d = cell["dataset"]
            label = d["name"] + (f" {cell['protocol'].get('train_dataset')}->{cell['protocol'].get('test_dataset')}"
                                 if cell["protocol"].get("name") == "cross" else "")
            for metric in METRICS:
                ours, sd = _ours(cell, metric)
                rows.append({"study": study.name, "row": label, "dataset": d["name"], "classes": d.get("classes"),
                             "model": cell["model"], "modality": cell["modality"], "metric": metric, "paper": None,
                             "paper_protocol": "", "ours": ours, "ours_sd": sd, "difference": None,
                             "oracle_leaky": _oracle(cell, metric),
                             "our_protocol": cell["metrics"].get("protocol", ""), "n": cell["metrics"].get("n"),
                             "why": "the paper prints no figure", "note": ""})
    return rows


def _settings(study_dir: Path) -> str:
    parts = []
    for part in sorted(study_dir.glob("part*.yaml")):
        spec = read_yaml(part)
        roots = ", ".join(f"{md_text(d['name'])} at {md_text(d['root'])}" for d in spec["datasets"])
        training = spec.get("training") or {}
        seeds = f", seeds {', '.join(str(x) for x in spec['seeds'])}" if spec.get("seeds") else ""
        parts.append(f"{md_text(part.name)}: {roots}; epochs {md_text(training.get('epochs', 50))}, face crop "
                     f"{md_text(spec.get('size', 224))} px, network input {md_text(spec.get('img_size') or 'the model default')}, "
                     f"{md_text(training.get('recipe', 'paper'))} recipe{md_text(seeds)}")
    return "; ".join(parts)


def scatter_png(rows: list[dict[str, Any]], path: Path) -> Path:
    """Ours against the paper's, one point per figure, the diagonal where they agree."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, metrics, scale, title in ((axes[0], ("accuracy",), 100.0, "accuracy %"), (axes[1], ("uf1", "uar"), 1.0, "UF1 / UAR")):
        for metric, marker in zip(metrics, "os"):
            pts = [(r["paper"], r["ours"]) for r in rows if r["metric"] == metric and r["paper"] is not None and r["ours"] is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.scatter(xs, ys, marker=marker, label=_LABEL[metric], alpha=0.7)
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
    lines = ["# The paper's figures beside ours", "",
             "Paper: arXiv 2509.00056 as printed. Ours: honest figures (pooled predictions, no epoch or checkpoint "
             "chosen on test data) on the data named under each study; on synthetic stand-ins they show that the "
             "study runs, not how the method does on the real datasets. Accuracy in %, UF1 / UAR as fractions; "
             "difference = ours - paper. Why published figures tend to be higher: docs/protocols.md.", "",
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
        lines += ["", "| row | dataset | model | modality | metric | paper | ours | difference | n (ours) |"
                  + (" oracle (leaky) |" if leaky else ""), "|---|---|---|---|---|---|---|---|---|" + ("---|" if leaky else "")]
        for r in members:
            ours = _fmt(r["metric"], r["ours"]) + (f" +- {_fmt(r['metric'], r['ours_sd'])}" if r["ours_sd"] is not None else "")
            if r["ours"] is None:
                ours = f"- ({md_text(r['why'])})"
            paper_cell = r.get("printed") or _fmt(r["metric"], r["paper"]) if r["paper"] is not None else f"- ({r['why']})"
            diff = "-" if r["difference"] is None else f"{r['difference']:+.2f}" if r["metric"] == "accuracy" else f"{r['difference']:+.3f}"
            lines.append(f"| {md_text(r['row'])} | {md_text(r['dataset'])} ({md_text(r['classes'])} cl.) | {md_text(r['model'])} | "
                         f"{md_text(r['modality'])} | {_LABEL[r['metric']]} | {md_text(paper_cell)} | {ours} | {diff} | "
                         f"{r['n'] if r['n'] is not None else '-'} |"
                         + (f" {_fmt(r['metric'], r['oracle_leaky'])} |" if leaky else ""))
        lines.append("")
    write_bytes(runs / "paper_report.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    return write_text(runs / "paper_report.md", "\n".join(lines))
