"""Spot-then-recognise end to end, and `mesti analyze` speed.

A benchmark, not a test. Generates the default synthetic clip set (`mesti synth`, 16 subjects,
seed 0) and trains a bundle on it at the demo's small settings (MESTI + MEGANet, 3 classes,
48 px, 10 epochs, `--face none`), generates the default synthetic long-video set (4 subjects x
2 videos x 30 s at 30 fps, seed 0), then for each spotting method runs the MEGC evaluation with
recognition on top (`mesti spot-eval --recognise`) and prints spotting F1, recognition F1 and
STRS in one table. Last, `mesti.analyze` on a 1-minute 640 x 480, 30 fps video (the video of
benchmarks/spot_speed.py), timed per stage, as a multiple of real time.
    python benchmarks/analyze.py [--work DIR] [--methods naive,lbp,flow,learned]
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import mesti
from mesti.analysis.dataset import recognise_spotted
from mesti.datasets.registry import create_dataset
from mesti.spotting.run import evaluate_dataset
from mesti.synth.long import generate_long_videos

METHODS = ("naive", "lbp", "flow", "learned")
TRAIN = ["--dataset", "casme2", "--classes", "3", "--modality", "mesti", "--model", "meganet", "--img-size", "48",
         "--size", "128", "--face", "none", "--epochs", "10", "--batch-size", "16", "--device", "cpu"]


def mesti_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "mesti", *args], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, default=None, help="Reuse this folder (data, bundle, long set) if present.")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--minutes", type=float, default=1.0, help="Length of the speed video.")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mesti_analyze_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; work in {work}", flush=True)
    data, bundle, long_root = work / "data", work / "model", work / "synth_long"
    t = time.perf_counter()
    if not data.is_dir():
        mesti_cli("synth", str(data), "--subjects", "16", "--seed", "0")
    if not bundle.is_dir():
        mesti_cli("train", *TRAIN, "--root", str(data), "--cache", str(work / "cache"), "--out", str(bundle))
    if not long_root.is_dir():
        generate_long_videos(long_root, subjects=4, videos_per_subject=2, seconds=30, fps=30, seed=0)
    print(f"clip set, bundle and long-video set ready in {time.perf_counter() - t:.0f} s", flush=True)
    model = mesti.load_model(bundle)
    adapter = create_dataset("samm-long", long_root, fps=30)
    labels = [iv.label for v in adapter.videos() for iv in v.intervals]
    print(f"{len(labels)} expressions; truth labels: " + ", ".join(f"{n} {c}" for c, n in sorted(
        {c: labels.count(c) for c in set(labels)}.items())) + f"; model classes {', '.join(model.classes)}", flush=True)
    rows = []
    for method in [m for m in args.methods.split(",") if m]:  # --methods "" measures only the speed
        t = time.perf_counter()
        report = evaluate_dataset(adapter, work / f"eval_{method}", method=method,
                                  recognise=lambda v, r: recognise_spotted(model, v, r))
        assert report.recognition is not None
        rows.append((method, report.recognition["scores"]))
        print(f"  {method}: {time.perf_counter() - t:.0f} s", flush=True)
    if rows:
        print_table(rows)
    speed(work, model, args.minutes)


def print_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    print("\nMEGC 2023-2025 spot-then-recognise: spotting IoU >= 0.5 one-to-one within each type, counts pooled over "
          "8 videos; recognition on the correctly spotted intervals (truth emotions mapped to the MEGC 3 classes; "
          "'others' has no class and counts as wrong); STRS = spotting F1 x recognition F1; learned spotting LOSO")
    print("| spotting method | spotting P / R / F1 | TP / FP / FN | recognition F1 (UF1) | STRS |")
    print("|---|---|---|---|---|")
    for method, s in rows:
        print(f"| {method} | {s['spot_precision']:.3f} / {s['spot_recall']:.3f} / {s['spot_f1']:.3f} | "
              f"{s['spot_tp']} / {s['spot_fp']} / {s['spot_fn']} | {s['recognition_f1']:.3f} ({s['recognition_uf1']:.3f}) | "
              f"**{s['strs']:.3f}** |")


def speed(work: Path, model: object, minutes: float) -> None:
    spec = importlib.util.spec_from_file_location("spot_speed", Path(__file__).with_name("spot_speed.py"))
    assert spec is not None and spec.loader is not None
    spot_speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(spot_speed)
    video = work / "speed.avi"
    if not video.is_file():
        spot_speed.write_video(video, minutes)
    t = time.perf_counter()
    analysis = mesti.analyze(video, model)
    total = time.perf_counter() - t
    seconds = analysis.spot.frames / analysis.fps
    parts = ", ".join(f"{k} {v:.1f} s ({seconds / v:.1f} x real time)" for k, v in analysis.timings.items())
    print(f"\nmesti.analyze on {analysis.spot.frames} frames of 640x480 at {analysis.fps:g} fps ({seconds:.0f} s of video), "
          f"{len(analysis.intervals)} intervals: {total:.1f} s = {seconds / total:.2f} x real time; {parts}; "
          f"{analysis.frames_held} frames held at most for classification")


if __name__ == "__main__":
    main()
