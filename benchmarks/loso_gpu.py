"""Sequential vs stacked training engine on a composite-sized LOSO (issue 7).

A benchmark, not a test: in one process, on one device, it trains every LOSO fold with the
sequential engine (``train_fold``, one fold after another) and with the stacked engine
(``mesti.training.stacked``, many folds per step), and prints wall time, training samples
per second, their ratio, and the pooled UF1 / UAR of both, over ``--seeds`` run seeds.

By default the samples are synthetic and built in memory, sized like the MEGC 2019
composite: 442 samples, 68 subjects of uneven size, 3 classes (250 / 109 / 83), images of
noise plus a class-dependent pattern at a subject-dependent position. ``--cache DIR`` reads
a real modality cache instead (``mesti synth`` then ``mesti prepare``).

    python benchmarks/loso_gpu.py                                   # the issue's setting (GPU)
    python benchmarks/loso_gpu.py --model ststnet --epochs 20       # 28 x 28, minutes on a CPU
    python benchmarks/loso_gpu.py --img-size 48 --subjects 6 --epochs 3

Both engines see the same samples, folds, seeds and ``TrainConfig``; their batch schedules
differ slightly (see ``mesti.training.stacked``), so the samples each trains on are
counted from its own schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mesti.models import create_model, get_model_info
from mesti.protocols import LeaveOneSubjectOut
from mesti.protocols.splits import Fold
from mesti.reports.metrics import compute_metrics
from mesti.training.config import TrainConfig
from mesti.training.engine import FoldResult, fit_input, resolve_device, train_fold
from mesti.training.samples import SampleSet
from mesti.training.stacked import StackedOptions, auto_folds_per_group, plan_schedule, run_stacked, sequential_steps

CLASSES = ("negative", "positive", "surprise")
COMPOSITE_COUNTS = (250, 109, 83)


def synthetic_samples(n: int, subjects: int, size: int, seed: int = 0) -> SampleSet:
    """``n`` images over ``subjects`` subjects of uneven size (at least one sample each) and
    three classes in the composite's proportions; each class is a bright bar of its own
    orientation, placed where its subject places it, on Gaussian noise."""
    if subjects > n:
        raise SystemExit(f"--subjects {subjects} exceeds --samples {n}")
    rng = np.random.default_rng(seed)
    weights = rng.gamma(2.0, 1.0, subjects)
    extra = rng.multinomial(n - subjects, weights / weights.sum())
    subject_of = np.repeat(np.arange(subjects), 1 + extra)
    counts = np.round(np.array(COMPOSITE_COUNTS) / sum(COMPOSITE_COUNTS) * n).astype(int)
    counts[0] += n - counts.sum()
    labels = rng.permutation(np.repeat(np.arange(3), counts))
    yy, xx = np.mgrid[0:size, 0:size] / size
    offsets = rng.uniform(-0.12, 0.12, size=(subjects, 2))
    images = rng.normal(0.0, 1.0, size=(n, 3, size, size)).astype(np.float32)
    for i in range(n):
        dy, dx = offsets[subject_of[i]]
        y, x = yy - 0.5 - dy, xx - 0.5 - dx
        along = (x, y, x + y)[labels[i]]  # vertical, horizontal or diagonal bar
        across = (y, x, x - y)[labels[i]]
        bar = np.exp(-(along**2) / 0.004) * (np.abs(across) < 0.3)
        images[i] += (1.5 * bar).astype(np.float32)[None]
    return SampleSet.from_arrays(images * 40 + 128, labels, [f"s{s:02d}" for s in subject_of], ["synthetic"] * n,
                                 [f"c{i:03d}" for i in range(n)], CLASSES)


def cached_samples(cache: Path, modality: str) -> SampleSet:
    from mesti.datasets.torch_datasets import load_cached_arrays

    arrays = load_cached_arrays(cache, modality, allow_incomplete=True)
    return SampleSet.from_arrays(arrays.images, arrays.labels, arrays.subjects, arrays.datasets, arrays.clip_ids,
                                 arrays.class_names)


def scores(samples: SampleSet, results: list[FoldResult]) -> dict[str, float]:
    idx = [i for r in results for i in r.test_index]
    pred = [p for r in results for p in r.predictions]
    metrics = compute_metrics(samples.labels[idx].tolist(), pred, list(samples.class_names))
    return {"uf1": float(metrics["uf1"]), "uar": float(metrics["uar"])}


def load_average() -> str:
    """The 1-minute load average: on a shared CPU, other processes slow both engines, and
    torch's thread pools suffer most (compare figures only at a low load)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_sequential(samples: SampleSet, folds: list[Fold], build: Any, cfg: TrainConfig, size: tuple[int, int],
                   chans: int) -> tuple[float, int, list[FoldResult]]:
    device = resolve_device(cfg.device)
    synchronize(device)
    start = time.perf_counter()
    results = [train_fold(samples, f, build, cfg, input_size=size, in_chans=chans)[0] for f in folds]
    synchronize(device)
    seconds = time.perf_counter() - start
    trained = sum(cfg.epochs * (len(f.train) - (1 if len(f.train) % cfg.batch_size == 1 and len(f.train) > 1 else 0))
                  for f in folds)
    return seconds, trained, results


def run_stacked_engine(samples: SampleSet, folds: list[Fold], build: Any, cfg: TrainConfig, size: tuple[int, int],
                       chans: int, options: StackedOptions) -> tuple[float, int, list[FoldResult]]:
    device = resolve_device(cfg.device)
    schedule = plan_schedule(samples, folds, cfg)
    synchronize(device)
    start = time.perf_counter()
    results = run_stacked(samples, folds, build, cfg, finished=lambda f: None, record=lambda f, r, m: None,
                          options=options, input_size=size, in_chans=chans)
    synchronize(device)
    seconds = time.perf_counter() - start
    trained = len(folds) * cfg.epochs * schedule.steps_per_epoch * schedule.batch_size
    return seconds, trained, results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="meganet")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=1, help="Run seeds 0..N-1; metrics are compared over them.")
    ap.add_argument("--img-size", type=int, default=None, help="Network input (default: the model's own, 224 for MEGANet).")
    ap.add_argument("--samples", type=int, default=442)
    ap.add_argument("--subjects", type=int, default=68, help="Subjects, i.e. LOSO folds.")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--folds-per-group", type=int, default=None, help="Stacked engine group size (default: by memory estimate).")
    ap.add_argument("--compile", action="store_true", help="torch.compile the stacked step.")
    ap.add_argument("--no-amp", action="store_true", help="float32 on CUDA instead of bf16 autocast.")
    ap.add_argument("--engines", default="sequential,stacked", help="Comma-separated subset of sequential,stacked.")
    ap.add_argument("--cache", type=Path, default=None, help="A prepared modality cache (mesti synth + mesti prepare).")
    ap.add_argument("--modality", default="mesti", help="The cached modality read with --cache.")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own).")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    info = get_model_info(args.model)
    size = (args.img_size, args.img_size) if args.img_size else info.img_size
    chans = info.in_chans
    base = cached_samples(args.cache, args.modality) if args.cache else synthetic_samples(args.samples, args.subjects, size[0])
    samples = SampleSet(fit_input(base.images, size, chans), base.labels, base.subjects, base.datasets, base.clip_ids,
                        base.class_names)
    folds = LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    options = StackedOptions(folds_per_group=args.folds_per_group, compile=args.compile)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"device: {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{args.model} at {size[0]} x {size[1]}, {len(samples)} samples, {len(folds)} LOSO folds "
          f"({samples.describe()}), {args.epochs} epochs, batch {args.batch_size}")

    def build() -> torch.nn.Module:
        return create_model(args.model, num_classes=len(samples.class_names), in_chans=chans, img_size=size)

    rows: list[dict[str, Any]] = []
    for seed in range(args.seeds):
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=seed, device=args.device, amp=not args.no_amp)
        schedule = plan_schedule(samples, folds, cfg)
        median = sorted(len(f.train) for f in folds)[len(folds) // 2]
        print(f"seed {seed}: stacked schedule batch {schedule.batch_size} x {schedule.steps_per_epoch} steps/epoch; "
              f"sequential {sequential_steps(median, cfg.batch_size)} steps/epoch for the median fold of {median}")
        if "stacked" in engines:
            fits = args.folds_per_group or auto_folds_per_group(samples, build, cfg, schedule, options, size, chans)
            how = "--folds-per-group" if args.folds_per_group else f"the memory estimate allows {fits or 'any number'}"
            print(f"  stacked groups: {min(fits or len(folds), len(folds))} folds at once ({how}; "
                  "a group that runs out of memory is retried in halves)")
        for engine in engines:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            if engine == "sequential":
                seconds, trained, results = run_sequential(samples, folds, build, cfg, size, chans)
            elif engine == "stacked":
                seconds, trained, results = run_stacked_engine(samples, folds, build, cfg, size, chans, options)
            else:
                raise SystemExit(f"unknown engine {engine!r}")
            row = {"seed": seed, "engine": engine, "seconds": seconds, "samples_per_s": trained / seconds,
                   **scores(samples, results), "load": load_average()}
            if device.type == "cuda":
                row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            rows.append(row)
            peak = f", peak {row['peak_gib']:.1f} GiB" if "peak_gib" in row else ""
            print(f"  {engine:10s} {seconds:9.1f} s  {row['samples_per_s']:9.1f} training samples/s  "
                  f"UF1 {row['uf1']:.3f}  UAR {row['uar']:.3f}  (load average {row['load']}{peak})", flush=True)

    print("\nengine       wall s (mean)  samples/s (mean)   UF1 mean +- sd     UAR mean +- sd")
    summary: dict[str, dict[str, float]] = {}
    for engine in engines:
        mine = [r for r in rows if r["engine"] == engine]
        sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)  # noqa: E731
        summary[engine] = {k: statistics.mean(r[k] for r in mine) for k in ("seconds", "samples_per_s", "uf1", "uar")}
        print(f"{engine:12s} {summary[engine]['seconds']:13.1f} {summary[engine]['samples_per_s']:17.1f}   "
              f"{summary[engine]['uf1']:.3f} +- {sd([r['uf1'] for r in mine]):.3f}    "
              f"{summary[engine]['uar']:.3f} +- {sd([r['uar'] for r in mine]):.3f}")
    if {"sequential", "stacked"} <= set(summary):
        seq, stk = summary["sequential"], summary["stacked"]
        print(f"\nstacked / sequential: {seq['seconds'] / stk['seconds']:.2f}x faster in wall time, "
              f"{stk['samples_per_s'] / seq['samples_per_s']:.2f}x the training samples per second")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "device": name,
                                         "rows": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
