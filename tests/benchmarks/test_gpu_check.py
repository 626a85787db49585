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


def load_driver():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("mesti_benchmarks_gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def loso_json(path: Path, model: str, seq_all: float, stacked: float) -> None:
    """A file shaped as benchmarks/loso_gpu.py --json writes it on CUDA."""
    setting = {"device": "NVIDIA H200", "model": model, "samples": "442", "subjects": 68, "epochs": 50, "batch_size": 32}
    rows = [{"seed": 0, "engine": "sequential", "seconds": seq_all / 17, "all_folds_seconds": seq_all, "projected": True,
             "folds": 4, "samples_per_s": 1.0, "uf1": 0.5, "uar": 0.6, "peak_gib": 2.0},
            {"seed": 0, "engine": "stacked", "seconds": stacked, "all_folds_seconds": stacked, "projected": False,
             "folds": 68, "samples_per_s": 9.0, "uf1": 0.52, "uar": 0.61, "peak_gib": 60.0, "folds_per_group": 34,
             "out_of_memory_halvings": [], "warnings": []}]
    path.write_text(json.dumps({"setting": setting, "rows": rows}))


def test_a_gpu_report_checks_the_goals_and_fails_on_a_failed_test(tmp_path: Path) -> None:
    gc = load_driver()
    steps = gc.plan(True, tmp_path)
    (tmp_path / "tests.xml").write_text(
        '<testsuites><testsuite><testcase classname="tests.cuda.test_engines" name="test_a"/>'
        '<testcase classname="tests.cuda.test_attention_kernel" name="test_b"><properties>'
        '<property name="attention_ops_and_kernels" value="aten::_scaled_dot_product_efficient_attention"/>'
        '</properties></testcase></testsuite></testsuites>')
    loso_json(tmp_path / "meganet.json", "meganet", seq_all=780.0, stacked=100.0)  # 7.8x, under 2 minutes: met
    loso_json(tmp_path / "ststnet.json", "ststnet", seq_all=300.0, stacked=45.0)  # over 30 s: not met
    (tmp_path / "encoders.json").write_text(json.dumps({"setting": {"size": 224, "frames": 40, "batch": 16},
                                                        "rows": [{"encoder": "mesti", "numpy": 800.0, "torch_cuda": 8000.0}]}))
    done = {s.key: {"rc": 0, "seconds": 1.0, "timed_out": False, "limit_s": 10, "command": s.command(), "log": "x"} for s in steps}
    info = {"gpu": "NVIDIA H200", "gpu_memory_gib": 139.8, "driver": "999.1", "cuda": "13.0", "cpu_cores": 16,
            "torch": "2.14.1", "python": "3.11", "commit": "abc", "cpu": "x86_64"}
    report = gc.build_report("gpu", info, steps, done, 500, True, "", "bash benchmarks/gpu_check.sh OUT")
    assert report["passed"] and report["complete"] and report["problems"] == []
    assert report["meganet"]["goal"]["met"] and report["meganet"]["ratio"] == pytest.approx(7.8)
    assert not report["ststnet"]["goal"]["met"]
    table = gc.markdown(report, steps)
    assert "NVIDIA H200 (139.8 GiB, driver 999.1, CUDA 13.0)" in table and "PASSED" in table
    assert "AUTO_ENGINE['cuda'] = 'stacked'" in table  # what to change once the check has passed
    assert "stacked < 120 s, >= 6x: met" in table and "stacked < 30 s: NOT met" in table
    assert "aten::_scaled_dot_product_efficient_attention" in table and "| mesti | 800.0 | 8,000.0 | 10.00x |" in table

    (tmp_path / "tests.xml").write_text(
        '<testsuites><testsuite><testcase classname="tests.cuda.test_engines" name="test_a">'
        '<failure message="AssertionError: not close">trace</failure></testcase></testsuite></testsuites>')
    done["meganet"] = {**done["meganet"], "timed_out": True, "rc": -15}
    report = gc.build_report("gpu", info, steps, done, 500, True, "", "bash benchmarks/gpu_check.sh OUT")
    assert not report["passed"]
    assert report["problems"] == ["test failed: test_engines::test_a", "step meganet: stopped at its time limit"]
    table = gc.markdown(report, steps)
    assert "NOT passed" in table and "AUTO_ENGINE" not in table
