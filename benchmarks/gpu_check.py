"""The GPU check: the CUDA tests, then both training engines and the encoders measured side by
side, written to ``OUT/gpu_check.json`` and ``OUT/gpu_check.md``.

Run it through ``bash benchmarks/gpu_check.sh OUT`` (or ``make gpu-check OUT=...``), which
first finds or sets up a Python with torch. Every step is a command of its own, run with a
time limit taken from one budget (the whole check must end within 9 minutes on one
H100/H200), its output streamed with the step's name in front and kept in ``OUT/logs``.
Both result files are rewritten after every step through a temporary name and a rename, so
they are always whole; ``"complete": false`` marks a check that has not finished (yet).

Without a CUDA device (or with ``--cpu``) the same steps run with tiny settings on the CPU:
the CUDA tests are then all skipped and the figures only show that the check works.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
#: The issue's goals for one H100/H200 (the sequential engine's MEGANet LOSO: about 13 minutes).
GOALS = {"meganet": {"stacked_s": 120.0, "ratio": 6.0}, "ststnet": {"stacked_s": 30.0}}
ENCODERS_GPU = "mesti,dynamic_image,dynamic_image_simplified,apex"  # TV-L1 flow runs in OpenCV on the CPU either way


@dataclass
class Step:
    """One command of the check: what it runs, for how long at most, where its figures land."""

    key: str
    title: str
    args: list[str]  # after the Python interpreter
    limit_s: float
    expect: str  # the plan's estimate, printed before anything runs
    result: Path | None = None  # the JSON (or JUnit XML) file the command writes

    def command(self) -> str:
        return "python " + " ".join(shlex.quote(a) for a in self.args)


def plan(cuda: bool, work: Path) -> list[Step]:
    """The steps, sized for one H100/H200 on CUDA (MEGANet's sequential LOSO runs about 13
    minutes there, so it trains 4 of the 68 folds and its whole-LOSO time is projected), or
    tiny settings on the CPU."""
    tests = Step("tests", "CUDA tests", ["-m", "pytest", "-m", "cuda", "tests/cuda", "-q", "-rA", "-p", "no:cacheprovider",
                                         "-o", "junit_family=xunit1", f"--junitxml={work / 'tests.xml'}"], 150, "about 1 minute", work / "tests.xml")
    if cuda:
        return [
            tests,
            Step("encoders", "encoders, numpy against CUDA", ["benchmarks/encoders.py", "--size", "224", "--frames", "40",
                 "--seconds", "1", "--batch", "16", "--modalities", ENCODERS_GPU, "--paths", "numpy,cuda",
                 "--json", str(work / "encoders.json")], 60, "about 20 s", work / "encoders.json"),
            Step("ststnet", "STSTNet LOSO, native recipe, 68 folds in one group",
                 ["benchmarks/loso_gpu.py", "--model", "ststnet", "--recipe", "native", "--folds-per-group", "68",
                  "--sequential-folds", "4", "--json", str(work / "ststnet.json")], 100,
                 "under 1 minute (goal: the stacked LOSO under 30 s)", work / "ststnet.json"),
            Step("meganet", "MEGANet LOSO at 224, 50 epochs",
                 ["benchmarks/loso_gpu.py", "--model", "meganet", "--sequential-folds", "4", "--json", str(work / "meganet.json")],
                 600, "the rest of the budget: about 1 minute of sequential folds, then the stacked LOSO "
                 "(goal: under 2 minutes)", work / "meganet.json"),
        ]
    tiny = ["--samples", "18", "--subjects", "3", "--sequential-folds", "1", "--device", "cpu"]
    return [
        tests,
        Step("encoders", "encoders, numpy against torch on the CPU", ["benchmarks/encoders.py", "--size", "32", "--frames", "8",
             "--seconds", "0.2", "--batch", "4", "--modalities", "mesti,apex", "--paths", "numpy,cpu",
             "--json", str(work / "encoders.json")], 60, "a few seconds", work / "encoders.json"),
        Step("ststnet", "STSTNet LOSO, native recipe, tiny", ["benchmarks/loso_gpu.py", "--model", "ststnet", "--recipe", "native",
             "--epochs", "2", "--folds-per-group", "3", *tiny, "--json", str(work / "ststnet.json")], 120,
             "about 10 s", work / "ststnet.json"),
        Step("meganet", "MEGANet LOSO at 32, tiny", ["benchmarks/loso_gpu.py", "--model", "meganet", "--img-size", "32",
             "--epochs", "1", *tiny, "--json", str(work / "meganet.json")], 180, "about 15 s", work / "meganet.json"),
    ]


def run_step(step: Step, limit: float, log: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one step, streaming its lines as ``[key] line`` and into ``log``; past ``limit``
    seconds its whole process group is stopped (what it wrote so far is kept)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *step.args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)

    last: deque[str] = deque(maxlen=3)

    def pump() -> None:
        assert proc.stdout is not None
        with log.open("w") as fh:
            for line in proc.stdout:
                fh.write(line)
                if line.strip():
                    last.append(line.rstrip())
                print(f"[{step.key}] {line}", end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        print(f"[{step.key}] stopped: past its limit of {limit:.0f} s", flush=True)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=10)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
    reader.join(timeout=10)
    return {"rc": proc.returncode, "seconds": round(time.perf_counter() - start, 1), "timed_out": timed_out,
            "limit_s": round(limit), "command": step.command(), "log": f"logs/{step.key}.log", "last_lines": list(last)}


def read_tests(path: Path) -> list[dict[str, Any]]:
    """Each test of a JUnit XML file: name, outcome, the first line of why, recorded properties."""
    if not path.is_file():
        return []
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, detail = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[kind]
                detail = next(iter((node.get("message") or node.text or "").strip().splitlines()), "")
                break
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        tests.append({"test": f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}", "outcome": outcome,
                      "detail": detail[:300], **({"properties": props} if props else {})})
    return tests


def read_json(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except ValueError:
        return None


def machine(cuda: bool) -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__, "cpu_cores": os.cpu_count(),
                            "cpu": platform.processor() or platform.machine()}
    if cuda:
        info.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                    gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20)
            info["driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"
        except (OSError, subprocess.TimeoutExpired):
            info["driver"] = "unknown"
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        info["commit"] = out.stdout.strip() if out.returncode == 0 else "unknown (no git history here)"
    except (OSError, subprocess.TimeoutExpired):
        info["commit"] = "unknown (no git here)"
    return info


def engine_summary(data: dict[str, Any] | None, goal: dict[str, float] | None) -> dict[str, Any] | None:
    """Both engines of one loso_gpu.py run, averaged over its seeds, and the goals checked."""
    if not data or not data.get("rows"):
        return None
    out: dict[str, Any] = {"setting": data["setting"]}
    for engine in ("sequential", "stacked"):
        rows = [r for r in data["rows"] if r["engine"] == engine]
        if not rows:
            continue
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("seconds", "all_folds_seconds", "uf1", "uar")}
        if all("peak_gib" in r for r in rows):
            mean["peak_gib"] = max(r["peak_gib"] for r in rows)
        mean.update(seeds=len(rows), folds=rows[0]["folds"], projected=any(r["projected"] for r in rows))
        for key in ("folds_per_group", "out_of_memory_halvings", "warnings"):
            if key in rows[0]:
                mean[key] = rows[0][key]
        out[engine] = mean
    if "sequential" in out and "stacked" in out:
        out["ratio"] = out["sequential"]["all_folds_seconds"] / out["stacked"]["all_folds_seconds"]
    if goal:  # a stacked engine that did not finish (stopped at the time limit) did not meet it either
        met = "stacked" in out and out["stacked"]["all_folds_seconds"] < goal["stacked_s"]
        if "ratio" in goal:
            met = met and out.get("ratio", 0.0) >= goal["ratio"]
        out["goal"] = {**goal, "met": met}
    return out


def build_report(mode: str, info: dict[str, Any], steps: list[Step], done: dict[str, dict[str, Any]], budget: float,
                 cuda: bool, reason: str, command: str) -> dict[str, Any]:
    tests = read_tests(steps[0].result) if "tests" in done else []
    report: dict[str, Any] = {
        "mode": mode, "reason": reason, "command": command, "machine": info, "budget_s": budget,
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "complete": len(done) == len(steps),
        "steps": {s.key: {"title": s.title, **done[s.key]} if s.key in done else {"title": s.title, "status": "not run"}
                  for s in steps},
        "tests": tests,
    }
    for s in steps[1:]:
        data = read_json(s.result) if s.key in done else None
        if s.key == "encoders":
            report["encoders"] = data
        else:
            report[s.key] = engine_summary(data, GOALS.get(s.key) if cuda else None)
    failed = [t["test"] for t in tests if t["outcome"] in ("failed", "error")]
    broken = [k for k, d in done.items() if d["rc"] != 0 or d["timed_out"]]
    engines_ok = all(report.get(k) and {"sequential", "stacked"} <= set(report[k]) for k in ("ststnet", "meganet"))
    report["passed"] = bool(cuda and report["complete"] and not failed and not broken and tests and engines_ok)
    report["problems"] = [f"test failed: {t}" for t in failed] + [
        f"step {k}: " + ("stopped at its time limit" if done[k]["timed_out"] else f"exit status {done[k]['rc']}") for k in broken]
    return report


def verdict_line(report: dict[str, Any]) -> str:
    if not report["complete"]:
        return "incomplete (still running, or steps were stopped or skipped)"
    if report["mode"] != "gpu":
        return "the CPU fallback ran every step; nothing here is a GPU figure" if not report["problems"] else "the CPU fallback had problems"
    return "PASSED: every CUDA test passed and both engines finished every measurement" if report["passed"] else "NOT passed"


def test_rows(tests: list[dict[str, Any]]) -> list[str]:
    """One row per test that ran; skipped tests one row per reason."""
    rows = [f"| `{t['test']}` | {t['outcome']} | " + "; ".join(
        x for x in (t["detail"], "; ".join(f"{k}: {v}" for k, v in t.get("properties", {}).items())) if x).replace("|", "/") + " |"
        for t in tests if t["outcome"] != "skipped"]
    reasons: dict[str, int] = {}
    for t in tests:
        if t["outcome"] == "skipped":
            reasons[t["detail"]] = reasons.get(t["detail"], 0) + 1
    rows += [f"| {n} test{'s' if n > 1 else ''} | skipped | {why.replace('|', '/')} |" for why, n in reasons.items()]
    return rows


def fmt(v: float | None, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def markdown(report: dict[str, Any], steps: list[Step]) -> str:
    info = report["machine"]
    where = (f"{info['gpu']} ({info['gpu_memory_gib']} GiB, driver {info['driver']}, CUDA {info['cuda']})"
             if "gpu" in info else f"no GPU: {info['cpu']}")
    verdict = verdict_line(report)
    lines = [
        "# mesti GPU check", "",
        f"- machine: {where}, {info['cpu_cores']} CPU cores, torch {info['torch']}, Python {info['python']}, "
        f"commit {info['commit']}, {report['date_utc']}",
        f"- command: `{report['command']}`",
        f"- mode: {report['mode']}" + (f" ({report['reason']})" if report["reason"] else ""),
        f"- result: {verdict}" + ("".join(f"\n  - {p}" for p in report["problems"])),
        *(["- next: put these figures (card, driver, torch, command) in the README's performance section and, in the "
           "same change, set `AUTO_ENGINE['cuda'] = 'stacked'` in `mesti.engine.stacked`"] if report["passed"] else []),
        "",
        "## Steps", "", "| step | command | seconds | limit s | exit |", "|---|---|---|---|---|",
    ]
    for s in steps:
        d = report["steps"][s.key]
        exit_ = "-" if "rc" not in d else ("time limit" if d["timed_out"] else str(d["rc"]))
        lines.append(f"| {s.title} | `{s.command()}` | {d.get('seconds', '-')} | {d.get('limit_s', '-')} | {exit_} |")
    for s in steps:
        d = report["steps"][s.key]
        if d.get("timed_out") or d.get("rc", 0) != 0:
            lines += ["", f"Last lines of {s.title} (`{d['log']}`):", "", "```", *d.get("last_lines", []), "```"]
    lines += ["", "## CUDA tests (`python -m pytest -m cuda tests/cuda`)", ""]
    if report["tests"]:
        lines += ["| test | outcome | detail |", "|---|---|---|", *test_rows(report["tests"])]
    else:
        lines.append("(no test results)")
    lines += ["", "## Training engines (`benchmarks/loso_gpu.py`), synthetic LOSO, one seed", "",
              "| run | sequential s (all folds) | stacked s | stacked / sequential | UF1 seq / stacked | UAR seq / stacked "
              "| peak GiB seq / stacked | folds per group | goal |", "|---|---|---|---|---|---|---|---|---|"]
    for s in steps:
        if s.key not in ("ststnet", "meganet"):
            continue
        r = report.get(s.key)
        if not r:
            lines.append(f"| {s.title} | no figures | | | | | | | |")
            continue
        seq, stk = r.get("sequential", {}), r.get("stacked", {})
        goal = r.get("goal")
        goal_cell = "-" if not goal else (f"stacked < {goal['stacked_s']:.0f} s" + (f", >= {goal['ratio']:.0f}x" if "ratio" in goal else "")
                                          + (": met" if goal["met"] else ": NOT met"))
        proj = "*" if seq.get("projected") else ""
        oom = f" ({len(stk['out_of_memory_halvings'])} OOM halvings)" if stk.get("out_of_memory_halvings") else ""
        lines.append(
            f"| {s.title}: {r['setting']['samples']} samples, {r['setting']['subjects']} folds, {r['setting']['epochs']} epochs, "
            f"batch {r['setting']['batch_size']} | {fmt(seq.get('all_folds_seconds'))}{proj} | {fmt(stk.get('all_folds_seconds'))} "
            f"| {fmt(r.get('ratio'), '.2f')}x | {fmt(seq.get('uf1'), '.3f')} / {fmt(stk.get('uf1'), '.3f')} "
            f"| {fmt(seq.get('uar'), '.3f')} / {fmt(stk.get('uar'), '.3f')} | {fmt(seq.get('peak_gib'))} / {fmt(stk.get('peak_gib'))} "
            f"| {stk.get('folds_per_group', '-')}{oom} | {goal_cell} |")
    notes = sorted({w for k in ("ststnet", "meganet") for w in (report.get(k) or {}).get("stacked", {}).get("warnings", [])})
    if notes:
        lines += ["", "Warnings while the stacked engine ran (an op without a vmap rule runs once per fold):",
                  *(f"- {w}" for w in notes)]
    lines += ["", "\\* the sequential engine trained only some of the folds (`--sequential-folds`): its whole-LOSO time is "
              "projected from its measured training samples per second, and both engines' UF1/UAR are pooled over "
              "those same folds.", ""]
    enc = report.get("encoders")
    lines += ["## Encoders (`benchmarks/encoders.py`), clips per second", ""]
    if enc:
        st = enc["setting"]
        paths = [k for k in enc["rows"][0] if k.startswith("torch_")]
        lines += [f"{st['frames']} frames of {st['size']} x {st['size']} RGB; the numpy path one clip at a time, "
                  f"the torch path in batches of {st['batch']} already on the device.", "",
                  "| encoder | numpy | " + " | ".join(p.replace("_", " ") for p in paths) + " | torch / numpy |",
                  "|---|---|" + "---|" * len(paths) + "---|"]
        for row in enc["rows"]:
            last = row[paths[-1]] / row["numpy"] if paths else None
            lines.append(f"| {row['encoder']} | {row['numpy']:,.1f} | " + " | ".join(f"{row[p]:,.1f}" for p in paths)
                         + f" | {fmt(last, '.2f')}x |")
    else:
        lines.append("(no figures)")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="Folder for gpu_check.json, gpu_check.md, logs/ and raw/ (each step's own figures).")
    ap.add_argument("--budget", type=float, default=510.0, help="Seconds every step together may take.")
    ap.add_argument("--cpu", action="store_true", help="Run the CPU fallback even where a CUDA device is.")
    ap.add_argument("--command", default="bash benchmarks/gpu_check.sh OUT", help="The command to name in the report.")
    args = ap.parse_args()
    start = time.monotonic()
    available = torch.cuda.is_available()
    cuda = available and not args.cpu
    if cuda:
        mode, reason = "gpu", ""
    else:
        mode = "cpu-fallback"
        reason = ("--cpu given" if available else "no CUDA device found (torch.cuda.is_available() is False)") + \
            ": tiny settings on the CPU; these figures only show that the check runs"
        print(f"gpu-check: {reason}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "logs").mkdir(exist_ok=True)
    work = args.out / "raw"  # each step's own JSON / JUnit XML
    work.mkdir(exist_ok=True)
    steps = plan(cuda, work)
    info = machine(cuda)
    print(f"gpu-check: {info.get('gpu', 'CPU only')}, torch {info['torch']}, {info['cpu_cores']} CPU cores; "
          f"budget {args.budget:.0f} s for {len(steps)} steps:", flush=True)
    for i, s in enumerate(steps, 1):
        print(f"  {i}. {s.title} (limit {s.limit_s:.0f} s, expected {s.expect}): {s.command()}", flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    done: dict[str, dict[str, Any]] = {}

    def save() -> dict[str, Any]:
        report = build_report(mode, info, steps, done, args.budget, cuda, reason, args.command)
        write_atomic(args.out / "gpu_check.json", json.dumps(report, indent=2))
        write_atomic(args.out / "gpu_check.md", markdown(report, steps))
        return report

    save()
    for i, s in enumerate(steps, 1):
        left = args.budget - (time.monotonic() - start)
        if left < 20:
            print(f"gpu-check: step {i} ({s.title}) skipped: {left:.0f} s of the budget left", flush=True)
            continue
        limit = min(s.limit_s, left)
        print(f"gpu-check: step {i}/{len(steps)}: {s.title} (limit {limit:.0f} s)", flush=True)
        if s.result is not None:
            s.result.unlink(missing_ok=True)
        done[s.key] = run_step(s, limit, args.out / "logs" / f"{s.key}.log", env)
        print(f"gpu-check: step {i} ended after {done[s.key]['seconds']} s "
              f"({'time limit' if done[s.key]['timed_out'] else 'exit ' + str(done[s.key]['rc'])})", flush=True)
        save()
    report = save()
    print(f"gpu-check: {verdict_line(report)}; {time.monotonic() - start:.0f} s; "
          f"results: {args.out / 'gpu_check.json'}, {args.out / 'gpu_check.md'}", flush=True)
    for p in report["problems"]:
        print(f"  {p}", flush=True)
    fallback_ok = mode == "cpu-fallback" and report["complete"] and not report["problems"]
    return 0 if report["passed"] or fallback_ok else 1


if __name__ == "__main__":
    sys.exit(main())
