"""Spotting F1 (micro, macro, overall) of every method on the default synthetic long-video set.

A benchmark, not a test. Generates the set (4 subjects x 2 videos x 30 s at 30 fps, 128 px,
seed 0) unless --root points at one, runs `spot-eval` for lbp, naive, flow and learned (the
learned method leave-one-subject-out) and prints one table. The training-free methods' fixed
settings were chosen on another seed (a development set), never on this one.
    python benchmarks/spotting.py [--root DIR] [--fps 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from mesti.datasets.registry import create_dataset
from mesti.spotting.run import evaluate_dataset
from mesti.synth.long import generate_long_videos

METHODS = ("naive", "lbp", "flow", "learned")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, default=None, help="An existing synthetic long set (default: generate one).")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default=",".join(METHODS))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mesti_spot_bench_"))
    root = args.root
    if root is None:
        root = work / "synth_long"
        t = time.perf_counter()
        generate_long_videos(root, subjects=4, videos_per_subject=2, seconds=30, fps=args.fps, seed=args.seed)
        print(f"generated {root} in {time.perf_counter() - t:.1f} s")
    adapter = create_dataset("samm-long", root, fps=args.fps)
    videos = adapter.videos()
    n_micro = sum(i.kind == "micro" for v in videos for i in v.intervals)
    n_macro = sum(i.kind == "macro" for v in videos for i in v.intervals)
    print(f"{len(videos)} videos, {n_micro} micro + {n_macro} macro expressions; {platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
    rows = []
    for method in args.methods.split(","):
        t = time.perf_counter()
        report = evaluate_dataset(adapter, work / f"eval_{method}", method=method)
        rows.append((method, report.table, time.perf_counter() - t))
        print(f"  {method}: {time.perf_counter() - t:.1f} s", flush=True)
    print("\nMEGC protocol: IoU >= 0.5 on inclusive frame intervals, one-to-one, counts pooled over all videos;"
          " learned: leave-one-subject-out")
    print("| method | micro F1 | macro F1 | overall P / R / F1 | TP / FP / FN |")
    print("|---|---|---|---|---|")
    for method, table, _ in rows:
        o = table["overall"]
        print(f"| {method} | {table['micro']['f1']:.3f} | {table['macro']['f1']:.3f} | "
              f"{o['precision']:.3f} / {o['recall']:.3f} / **{o['f1']:.3f}** | {o['tp']} / {o['fp']} / {o['fn']} |")
    print(f"outputs in {work}")


if __name__ == "__main__":
    main()
