"""Issue 22 D3: ``kill -9`` during the first preparation into a new cache. The half-made cache
is recognised as one and resumed (it was refused as "not a mesti output ... --out"), and the
worker processes of ``-j 2`` die with their parent instead of going on as orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesti.cache import prepare
from mesti.datasets.registry import create_dataset
from mesti.preprocessing import PreprocessConfig
from mesti.synth import generate_dataset
from mesti.utils.outputs import output_kind

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_first_prepare_resumes_and_its_workers_die_with_it(tmp_path: Path) -> None:
    data = generate_dataset(tmp_path / "data", subjects=4, clips_per_subject=6, size=64, seed=1).path
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "mesti", "prepare", "--dataset", "casme2", "--root", str(data), "--out", str(cache),
           "--workers", "2", "--face", "none", "--size", "64", "--modalities", "flow_onset_apex,mesti,dynamic_image"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 240
        while not list(cache.glob("*/*.npy")):  # the first images are written: the run is well under way
            assert proc.poll() is None and time.monotonic() < deadline, "prepare ended or stalled before the kill"
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert workers, "prepare -j 2 runs worker processes"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    orphans = [w for w in workers if _alive(w)]
    for w in orphans:  # a failing run must not leave them behind either
        os.kill(w, signal.SIGKILL)
    assert output_kind(cache) == "cache"  # recognised, so resumed rather than refused
    assert not orphans, "worker processes outlived their killed parent"
    written = len(list(cache.glob("*/*.npy")))
    report = prepare(create_dataset("casme2", data), ["flow_onset_apex", "mesti", "dynamic_image"], cache,
                     config=PreprocessConfig(face="none", size=64), workers=1)
    assert report.reused >= written >= 1 and report.prepared == report.clips == 24 and not report.failures
    assert not list(cache.glob("*/.*.tmp"))  # the killed run's temporary files are gone


@pytest.mark.slow
def test_the_killed_prepare_command_run_again_resumes(tmp_path: Path) -> None:
    # The same command line, run again after kill -9, finishes the cache: what was written is
    # reused and nothing is refused (it said "not a mesti output ... choose another --out").
    data = generate_dataset(tmp_path / "data", subjects=3, clips_per_subject=4, size=48, seed=2).path
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "mesti", "prepare", "--dataset", "casme2", "--root", str(data), "--out", str(cache),
           "--workers", "1", "--face", "none", "--size", "48", "--modalities", "flow_onset_apex,mesti"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 240
        while not list(cache.glob("*/*.npy")):
            assert proc.poll() is None and time.monotonic() < deadline, "prepare ended or stalled before the kill"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    written = len(list(cache.glob("*/*.npy")))
    assert 1 <= written < 24, "killed while under way"
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    out = " ".join(again.stdout.split())
    assert "12 prepared, 0 skipped" in out and f"{written} reused" in out, out
    assert len(list(cache.glob("*/*.npy"))) == 24 and not list(cache.glob("*/.*.tmp"))
