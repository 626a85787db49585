"""``mesti demo --quick``: the front door runs end to end (grid, bundle, long video, analysis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mesti.bundle import read_bundle
from mesti.cli.main import app


@pytest.mark.slow
def test_quick_demo_runs_every_stage_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    summary = json.loads((out / "grid" / "summary.json").read_text())
    assert len(summary) == 8 and all(r["status"] == "ok" for r in summary)
    bundle = read_bundle(out / "model")
    assert bundle.pipeline.modality == "mesti" and "estimate" in json.dumps(bundle.provenance)
    card = (out / "model" / "model.md").read_text()
    assert "kfold" in card or "k-fold" in card or "cross-validation" in card  # the grid's honest figures
    analysis = json.loads((out / "analysis" / "intervals.json").read_text())
    assert {"spot_f1", "recognition_f1", "strs"} <= set(analysis["scores"])
    html = (out / "analysis" / "report.html").read_text()
    assert "<html" in html.lower() and "http://" not in html and "https://" not in html
    before = {p: p.stat().st_mtime_ns for p in (out / "model" / "model.pt", out / "analysis" / "report.html")}
    again = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])  # finished steps are reused
    assert again.exit_code == 0 and {p: p.stat().st_mtime_ns for p in before} == before


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() if p.is_file() else "" for p in sorted(folder.rglob("*"))}


def test_demo_never_writes_among_other_files(tmp_path: Path) -> None:
    """Issue 22 D2: ``mesti demo --out D`` deleted the user's files in D/model and D/analysis."""
    out = tmp_path / "Documents"
    (out / "model").mkdir(parents=True)
    (out / "model" / "mine.pt").write_text("weights")
    (out / "analysis").mkdir()
    (out / "analysis" / "notes.md").write_text("notes")
    before = _tree(out)
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out)])
    assert res.exit_code == 2 and "not a mesti output" in res.stderr, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and _tree(out) == before


def test_demo_steps_refuse_other_files_in_their_folders_before_working(tmp_path: Path) -> None:
    from mesti.demo import DemoSettings, _bundle, demo_grid
    from mesti.errors import MestiError
    from mesti.utils.outputs import DEMO_MARKER

    out = tmp_path / "demo"
    (out / "model").mkdir(parents=True)
    (out / DEMO_MARKER).write_text("{}")
    (out / "model" / "mine.pt").write_text("weights")
    s = DemoSettings.quick()
    with pytest.raises(MestiError, match="model.*not a mesti output"):
        _bundle(out, demo_grid(out / "data", out / "cache", s), s, "mesti demo", None)
    assert _tree(out / "model") == {"mine.pt": "weights"}
