"""The GPU check's CPU fallback: without a CUDA device ``benchmarks/gpu_check.sh OUT`` says so,
runs every step with tiny settings and writes its JSON and table (issue 15)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHON": sys.executable, **env})


@pytest.mark.slow
def test_the_cpu_fallback_runs_every_step_and_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "gc"
    forced = ["--cpu"] if torch.cuda.is_available() else []  # on a GPU machine the real check takes minutes
    proc = run(["bash", "benchmarks/gpu_check.sh", str(out), *forced])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    if not forced:
        assert "no CUDA device found" in proc.stdout
    assert "[meganet]" in proc.stdout and "step 4/4" in proc.stdout  # each step's progress, streamed
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["mode"] == "cpu-fallback" and report["complete"] and not report["passed"] and report["problems"] == []
    assert report["tests"] and all(t["outcome"] == "skipped" and "CUDA" in t["detail"] for t in report["tests"])
    for key in ("ststnet", "meganet"):
        runs = report[key]
        assert runs["setting"]["device"] != "cuda" and runs["setting"]["subjects"] == 3
        for engine in ("sequential", "stacked"):
            assert math.isfinite(runs[engine]["all_folds_seconds"]) and 0 <= runs[engine]["uf1"] <= 1
        assert runs["stacked"]["folds"] == 3 and runs["sequential"]["projected"]
    assert report["ststnet"]["setting"]["recipe"] == "native" and report["ststnet"]["setting"]["batch_size"] == 256
    assert {r["encoder"] for r in report["encoders"]["rows"]} == {"mesti", "apex"}
    assert all(r["numpy"] > 0 and r["torch_cpu"] > 0 for r in report["encoders"]["rows"])
    table = (out / "gpu_check.md").read_text()
    for part in ("## CUDA tests", "| STSTNet LOSO, native recipe, tiny", "| mesti |", "the CPU fallback ran every step"):
        assert part in table
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["encoders.log", "meganet.log", "ststnet.log", "tests.log"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # nothing half-written left behind


def test_steps_that_do_not_fit_the_budget_are_skipped_and_the_report_says_incomplete(tmp_path: Path) -> None:
    proc = run([sys.executable, "benchmarks/gpu_check.py", str(tmp_path), "--budget", "5", "--cpu"])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skipped: 5 s of the budget left" in proc.stdout
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert not report["complete"] and not report["passed"]
    assert all(s["status"] == "not run" for s in report["steps"].values())
    assert "incomplete" in (tmp_path / "gpu_check.md").read_text()


def test_the_script_wants_an_output_folder() -> None:
    proc = run(["bash", "benchmarks/gpu_check.sh"])
    assert proc.returncode == 2 and "usage: bash benchmarks/gpu_check.sh OUT" in proc.stderr
