"""Issue 22 D17: labels, names and paths are shown as text in every Markdown file mesti writes,
never as HTML, remote images or links (checked by rendering with a CommonMark parser)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from mesti.bundle import model_card
from mesti.cli.main import app
from mesti.reports.metrics import compute_metrics, per_fold_metrics
from mesti.reports.report import write_run_report, write_summary
from mesti.studies.spec import write_seed_summary
from mesti.utils.markdown import md_code, md_text

HOSTILE = ["<script>alert(1)</script>", "![i](http://evil.example/x.png)", "[x](javascript:alert(1))",
           "<img src=http://evil.example/y.png>", "a|b\n# heading", "`code` **bold** _em_"]
_RENDER = MarkdownIt("commonmark").enable("table")


def rendered_safely(markdown: str, *texts: str) -> str:
    """The HTML of ``markdown``: no script, no raw HTML tag, no image but local ones, no javascript:
    link, and each of ``texts`` readable as the characters it holds."""
    out = _RENDER.render(markdown)
    assert 'href="javascript' not in out and "<script" not in out
    for src in re.findall(r'<img src="([^"]*)"', out):
        assert not re.match(r"[a-z]+:", src), f"remote image {src}"
    tags = set(re.findall(r"<([a-z0-9]+)[ >/]", out))
    assert tags <= {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong", "em",
                    "code", "pre", "img", "details", "summary", "a"}, tags
    plain = html.unescape(re.sub(r"<[^>]+>", "", out))
    for text in texts:
        assert " ".join(text.split()) in " ".join(plain.split()), text
    return out


def test_md_text_and_md_code_keep_any_text_literal() -> None:
    for text in HOSTILE:
        rendered_safely(f"| c |\n|---|\n| {md_text(text)} |\n\n{md_text(text)}\n", text)
    block = md_code("a\n```\n<script>x</script>\n````", "yaml")
    assert "<script>x</script>" in html.unescape(_RENDER.render(block)) and "<script>" not in _RENDER.render(block)
    assert md_text("dynamic_image") == "dynamic_image"  # an underscore inside a word stays as written


def test_run_report_shows_hostile_labels_as_text(tmp_path: Path) -> None:
    names = HOSTILE[:4]
    y_true, y_pred = np.array([0, 1, 2, 3, 0, 1]), np.array([0, 1, 2, 0, 1, 1])
    metrics = compute_metrics(y_true, y_pred, names)
    folds = per_fold_metrics(y_true, y_pred, [HOSTILE[0], HOSTILE[1]] * 3, names)
    config = {"protocol": {"name": "loso", "description": HOSTILE[1]}, "dataset": HOSTILE[2], "modality": "mesti",
              "model": "meganet", "command": "mesti loso --root '```\n<script>x</script>'",
              "prepare": {"skipped": [{"key": HOSTILE[3], "error": HOSTILE[4]}]}}
    metrics["protocol"] = HOSTILE[1]
    path = write_run_report(tmp_path, config, metrics, folds, {"confusion matrix": "confusion.png"})
    rendered_safely(path.read_text(), *names, HOSTILE[2])


def test_grid_summary_shows_hostile_labels_as_text(tmp_path: Path) -> None:
    rows = [{"dataset": HOSTILE[0], "protocol": HOSTILE[1], "modality": HOSTILE[2], "model": HOSTILE[3],
             "accuracy": 0.5, "uf1": 0.4, "uar": 0.3, "n": 10}]
    md, _ = write_summary(rows, tmp_path)
    rendered_safely(md.read_text(), *HOSTILE[:4])


def test_model_card_shows_hostile_names_as_text() -> None:
    classes = HOSTILE[:3]
    provenance = {"settings": {"dataset": {"name": HOSTILE[3], "root": HOSTILE[1]}, "modality": "mesti",
                               "model": {"name": "meganet", "kwargs": {}}, "training": {"recipe": HOSTILE[5]}},
                  "clips_per_class": dict.fromkeys(classes, 2), "mesti_version": "0", "date": HOSTILE[0],
                  "command": "mesti train --root '```\n<script>x</script>'", "subjects": 2,
                  "estimate": {"protocol": HOSTILE[0], "n": 6, "n_folds": 2, "run_seed": 0, "accuracy": 0.5,
                               "uf1": 0.5, "uar": 0.5}}
    card = model_card(provenance, {"classes": classes, "modality": "mesti", "input_size": [3, 8, 8]})
    rendered_safely(card, *classes, HOSTILE[3])


def test_seeds_summary_shows_a_hostile_protocol_as_text(tmp_path: Path) -> None:
    per_seed = {s: {"accuracy": 0.5, "uf1": 0.4, "uar": 0.3, "n": 4, "classes": ["a"], "protocol": HOSTILE[0]}
                for s in (0, 1)}
    write_seed_summary(tmp_path, per_seed)
    rendered_safely((tmp_path / "seeds.md").read_text(), HOSTILE[0])


def test_paper_report_shows_hostile_roots_and_protocols_as_text(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (runs / "table3").mkdir(parents=True)
    root = json.dumps(HOSTILE[1])
    (runs / "table3" / "part1.yaml").write_text(f"datasets: [{{name: casme2, root: {root}, classes: 3}}]\n"
                                                "protocols: [{name: loso}]\nmodalities: [mesti]\nmodels: [meganet]\n")
    cell = runs / "table3" / "part1" / "casme2-3c" / "loso" / "mesti" / "meganet"
    cell.mkdir(parents=True)
    (cell / "metrics.json").write_text(json.dumps({"accuracy": 0.5, "uf1": 0.4, "uar": 0.3, "n": 9,
                                                   "protocol": HOSTILE[0]}))
    res = CliRunner().invoke(app, ["paper", "report", str(runs)])
    assert res.exit_code == 0, res.output
    rendered_safely((runs / "paper_report.md").read_text(), HOSTILE[0], HOSTILE[1])
