"""Sequential vs stacked training engine on a composite-sized LOSO (issue 7).

A benchmark, not a test: in one process, on one device, it trains every LOSO fold with the
sequential engine (``train_fold``, one fold after another) and with the stacked engine
(``mesti.engine.stacked``, many folds per step), and prints wall time, training samples
per second, their ratio, and the pooled UF1 / UAR of both, over ``--seeds`` run seeds.

By default the samples are synthetic and built in memory, sized like the MEGC 2019
composite: 442 samples, 68 subjects of uneven size, 3 classes (250 / 109 / 83), images of
noise plus a class-dependent pattern at a subject-dependent position. ``--cache DIR`` reads
a real modality cache instead (``mesti synth`` then ``mesti prepare``).

    python benchmarks/loso_gpu.py                                   # the issue's setting (GPU)
    python benchmarks/loso_gpu.py --model ststnet --epochs 20       # 28 x 28, minutes on a CPU
    python benchmarks/loso_gpu.py --model ststnet --recipe native --folds-per-group 68  # its authors' recipe
    python benchmarks/loso_gpu.py --img-size 48 --subjects 6 --epochs 3

The sequential engine is the slow side (about 13 minutes per composite LOSO on an H100 at
the issue's measured rate). Where a command may not run that long, ``--sequential-folds 17``
trains 17 of the 68 folds sequentially, spread over the protocol order, measures its
samples per second, and projects its whole-LOSO wall time by training samples (marked ``*``);
both engines' UF1 / UAR are then pooled over those same 17 folds. ``--first-seed`` and
``--json`` let each seed run in a command of its own, the file keeping every seed's rows::

    for s in 0 1 2; do python benchmarks/loso_gpu.py --sequential-folds 17 --first-seed $s --json loso_gpu.json; done

Before timing, each engine trains one short untimed warm-up, so lazy initialisation and
kernel selection fall on neither side.

Both engines see the same samples, folds, seeds and ``TrainConfig``; their batch schedules
differ slightly (see ``mesti.engine.stacked``), so the samples each trains on are
counted from its own schedule.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mesti.models import create_model, get_model_info
from mesti.protocols import LeaveOneSubjectOut
from mesti.protocols.splits import Fold
from mesti.reports.metrics import compute_metrics
from mesti.engine.config import TrainConfig
from mesti.engine.sequential import train_fold
from mesti.engine.folds import FoldResult, fit_input, resolve_device
from mesti.engine.samples import SampleSet
from mesti.engine.stacked import StackedOptions, auto_folds_per_group, plan_schedule, run_stacked, sequential_steps
from mesti.utils.hooks import Functions

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
    from mesti.cache.torch_datasets import load_cached_arrays

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
                   chans: int, progress: bool = False) -> tuple[float, int, list[FoldResult]]:
    device = resolve_device(cfg.device)
    synchronize(device)
    start = time.perf_counter()
    results = []
    for k, fold in enumerate(folds, 1):
        results.append(train_fold(samples, fold, build, cfg, input_size=size, in_chans=chans)[0])
        if progress:
            print(f"    sequential: {k}/{len(folds)} folds trained, {time.perf_counter() - start:.1f} s", flush=True)
    synchronize(device)
    seconds = time.perf_counter() - start
    return seconds, sum(sequential_trained(f, cfg) for f in folds), results


def sequential_trained(fold: Fold, cfg: TrainConfig) -> int:
    """Samples ``train_fold`` trains on: every epoch, all but a last batch of one."""
    n = len(fold.train)
    return cfg.epochs * (n - (1 if n % cfg.batch_size == 1 and n > 1 else 0))


def run_stacked_engine(samples: SampleSet, folds: list[Fold], build: Any, cfg: TrainConfig, size: tuple[int, int],
                       chans: int, options: StackedOptions, progress: bool = False) -> tuple[float, int, list[FoldResult]]:
    device = resolve_device(cfg.device)
    schedule = plan_schedule(samples, folds, cfg)
    synchronize(device)
    start = time.perf_counter()
    group: list[int] = []  # the folds of the group now training (announced together before it starts)
    trained_since: list[bool] = [False]

    def on_fold_start(name: str, i: int, n: int) -> None:
        if not group or trained_since[0] or i <= group[-1]:  # a new group, or a retry in halves after running out of memory
            group.clear()
            trained_since[0] = False
        group.append(i)

    def on_epoch(epoch: int, epochs: int, stats: dict[str, float]) -> None:
        trained_since[0] = True
        if progress and (epoch == 1 or epoch % 10 == 0 or epoch == epochs):
            print(f"    stacked: epoch {epoch}/{epochs} of folds {group[0] + 1}-{group[-1] + 1} of {len(folds)}, "
                  f"{time.perf_counter() - start:.1f} s", flush=True)

    results = run_stacked(samples, folds, build, cfg, finished=lambda f: None, record=lambda f, r, m: None,
                          options=options, input_size=size, in_chans=chans,
                          hooks=Functions(fold_started=on_fold_start, epoch_ended=on_epoch))
    synchronize(device)
    seconds = time.perf_counter() - start
    trained = len(folds) * cfg.epochs * schedule.steps_per_epoch * schedule.batch_size
    return seconds, trained, results


def spread(folds: list[Fold], k: int) -> list[Fold]:
    """``k`` folds spread evenly over the protocol order (all of them when ``k`` is 0)."""
    if k <= 0 or k >= len(folds):
        return folds
    return [folds[(i * len(folds)) // k] for i in range(k)]


def load_rows(path: Path | None, setting: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows an earlier invocation wrote to ``path`` with the very same setting (the device's
    time limits may not allow every seed in one command); a file of another setting is refused."""
    if path is None or not path.exists():
        return []
    data = json.loads(path.read_text())
    if data.get("setting") != setting:
        raise SystemExit(f"{path} holds figures of another setting; use another --json file\n"
                         f"  there: {data.get('setting')}\n  here:  {setting}")
    return list(data["rows"])


def write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def summarize(rows: list[dict[str, Any]], engines: list[str]) -> dict[str, dict[str, float]]:
    sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)  # noqa: E731
    print("\nengine       seeds  wall s (measured)  wall s (all folds)  samples/s   UF1 mean +- sd   UAR mean +- sd"
          "   (UF1/UAR on the compared folds)")
    summary: dict[str, dict[str, float]] = {}
    for engine in engines:
        mine = [r for r in rows if r["engine"] == engine]
        if not mine:
            continue
        summary[engine] = {k: statistics.mean(r[k] for r in mine)
                           for k in ("seconds", "all_folds_seconds", "samples_per_s", "uf1", "uar")}
        projected = any(r["projected"] for r in mine)
        m = summary[engine]
        print(f"{engine:12s} {len(mine):5d} {m['seconds']:18.1f} {m['all_folds_seconds']:18.1f}{'*' if projected else ' '}"
              f" {m['samples_per_s']:10.1f}   {m['uf1']:.3f} +- {sd([r['uf1'] for r in mine]):.3f}  "
              f" {m['uar']:.3f} +- {sd([r['uar'] for r in mine]):.3f}")
    if {"sequential", "stacked"} <= set(summary):
        seq, stk = summary["sequential"], summary["stacked"]
        print(f"\nstacked / sequential: {seq['all_folds_seconds'] / stk['all_folds_seconds']:.2f}x faster in wall time "
              f"for the whole LOSO, {stk['samples_per_s'] / seq['samples_per_s']:.2f}x the training samples per second")
        paired = {r["seed"]: r for r in rows if r["engine"] == "sequential"}
        diffs = [(r["uf1"] - paired[r["seed"]]["uf1"], r["uar"] - paired[r["seed"]]["uar"])
                 for r in rows if r["engine"] == "stacked" and r["seed"] in paired]
        if diffs:
            d1, d2 = [d[0] for d in diffs], [d[1] for d in diffs]
            print(f"stacked - sequential, paired by seed ({len(diffs)}): UF1 {statistics.mean(d1):+.3f} +- {sd(d1):.3f}, "
                  f"UAR {statistics.mean(d2):+.3f} +- {sd(d2):.3f}")
        if any(r["projected"] for r in rows):
            print("* sequential wall time for all folds projected from the folds it trained, by training samples "
                  "(its samples/s is measured); both engines' UF1/UAR are pooled over those same folds")
    return summary


def base_config(args: argparse.Namespace) -> TrainConfig:
    """The paper's recipe (docs/method.md, Training) or the network's own (``--recipe native``, e.g.
    STSTNet: Adam 5e-5, batch 256, 500 epochs, no augmentation); --epochs and --batch-size,
    when given, override either."""
    cfg = TrainConfig(device=args.device, amp=not args.no_amp)
    if args.recipe == "native":
        recipe = get_model_info(args.model).native_recipe
        cfg = cfg.with_native_recipe(dict(recipe) if recipe else None, args.model)
    given = {"epochs": args.epochs, "batch_size": args.batch_size}
    return dataclasses.replace(cfg, **{k: v for k, v in given.items() if v is not None})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="meganet")
    ap.add_argument("--recipe", choices=("paper", "native"), default="paper",
                    help="paper (docs/method.md, Training) or native (the network's own published recipe).")
    ap.add_argument("--epochs", type=int, default=None, help="Default: the recipe's (50 for the paper's).")
    ap.add_argument("--seeds", type=int, default=1, help="How many run seeds, from --first-seed on.")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--img-size", type=int, default=None, help="Network input (default: the model's own, 224 for MEGANet).")
    ap.add_argument("--samples", type=int, default=442)
    ap.add_argument("--subjects", type=int, default=68, help="Subjects, i.e. LOSO folds.")
    ap.add_argument("--batch-size", type=int, default=None, help="Default: the recipe's (32 for the paper's).")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--folds-per-group", type=int, default=None, help="Stacked engine group size (default: by memory estimate).")
    ap.add_argument("--sequential-folds", type=int, default=0,
                    help="Train only this many folds (spread evenly) with the sequential engine and project its wall time "
                         "for all folds from its measured samples/s; metrics are then compared on those folds. 0: all.")
    ap.add_argument("--compile", action="store_true", help="torch.compile the stacked step.")
    ap.add_argument("--no-amp", action="store_true", help="float32 on CUDA instead of bf16 autocast.")
    ap.add_argument("--engines", default="sequential,stacked", help="Comma-separated subset of sequential,stacked.")
    ap.add_argument("--cache", type=Path, default=None, help="A prepared modality cache (mesti synth + mesti prepare).")
    ap.add_argument("--modality", default="mesti", help="The cached modality read with --cache.")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own).")
    ap.add_argument("--json", type=Path, default=None,
                    help="Write the figures here; rows already there (same setting, other seeds) are kept and summarised too.")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base_cfg = base_config(args)

    info = get_model_info(args.model)
    size = (args.img_size, args.img_size) if args.img_size else info.img_size
    chans = info.in_chans
    base = cached_samples(args.cache, args.modality) if args.cache else synthetic_samples(args.samples, args.subjects, size[0])
    samples = SampleSet(fit_input(base.images, size, chans), base.labels, base.subjects, base.datasets, base.clip_ids,
                        base.class_names)
    folds = LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)
    seq_folds = spread(folds, args.sequential_folds)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(engines) - {"sequential", "stacked"}:
        raise SystemExit(f"unknown engine(s) {', '.join(sorted(unknown))}")
    options = StackedOptions(folds_per_group=args.folds_per_group, compile=args.compile)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    setting = {"device": name, "torch": torch.__version__, "model": args.model, "size": list(size), "recipe": args.recipe,
               "epochs": base_cfg.epochs, "batch_size": base_cfg.batch_size, "lr": base_cfg.lr, "samples": str(args.cache or args.samples), "subjects": len(folds),
               "sequential_folds": len(seq_folds), "amp": not args.no_amp, "compile": args.compile,
               "folds_per_group": args.folds_per_group}
    rows = load_rows(args.json, setting)
    print(f"device: {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{args.model} at {size[0]} x {size[1]}, {len(samples)} samples, {len(folds)} LOSO folds "
          f"({samples.describe()}), {args.recipe} recipe: {base_cfg.epochs} epochs, batch {base_cfg.batch_size}, "
          f"{base_cfg.optimizer} lr {base_cfg.lr:g}, {base_cfg.loss}"
          + (f"; sequential engine on {len(seq_folds)} of the folds" if len(seq_folds) < len(folds) else ""))

    def build() -> torch.nn.Module:
        return create_model(args.model, num_classes=len(samples.class_names), in_chans=chans, img_size=size)

    compared = {f.name for f in seq_folds}
    warm = dataclasses.replace(base_cfg, epochs=1)
    for engine in engines:  # untimed: lazy initialisation and kernel selection must not land on either side
        if engine == "sequential":
            run_sequential(samples, folds[:1], build, warm, size, chans)
        else:
            run_stacked_engine(samples, folds[:2], build, warm, size, chans, options)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        cfg = dataclasses.replace(base_cfg, seed=seed)
        schedule = plan_schedule(samples, folds, cfg)
        median = sorted(len(f.train) for f in folds)[len(folds) // 2]
        print(f"seed {seed}: stacked schedule batch {schedule.batch_size} x {schedule.steps_per_epoch} steps/epoch; "
              f"sequential {sequential_steps(median, cfg.batch_size)} steps/epoch for the median fold of {median}")
        group = len(folds)
        if "stacked" in engines:
            fits = args.folds_per_group or auto_folds_per_group(samples, build, cfg, schedule, options, size, chans)
            how = "--folds-per-group" if args.folds_per_group else f"the memory estimate allows {fits or 'any number'}"
            group = min(fits or len(folds), len(folds))
            print(f"  stacked groups: {group} folds at once ({how}; "
                  "a group that runs out of memory is retried in halves)")
        for engine in engines:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            if engine == "sequential":
                seconds, trained, results = run_sequential(samples, seq_folds, build, cfg, size, chans, progress=True)
                all_trained = sum(sequential_trained(f, cfg) for f in folds)
                all_folds_seconds = seconds * all_trained / trained
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", RuntimeWarning)
                    seconds, trained, results = run_stacked_engine(samples, folds, build, cfg, size, chans, options,
                                                                   progress=True)
                halvings = [str(w.message) for w in caught if "ran out of memory" in str(w.message)]
                others = sorted({str(w.message).split(". ")[0] for w in caught} - set(halvings))
                for message in halvings + others:  # e.g. an op without a vmap rule (it runs once per fold)
                    print(f"  warning: {message}")
                all_folds_seconds = seconds
            row = {"seed": seed, "engine": engine, "seconds": seconds, "all_folds_seconds": all_folds_seconds,
                   "projected": engine == "sequential" and len(seq_folds) < len(folds), "folds": len(results),
                   "samples_per_s": trained / seconds, **scores(samples, [r for r in results if r.name in compared]),
                   "load": load_average()}
            if engine == "stacked":
                row.update(folds_per_group=group, out_of_memory_halvings=halvings, warnings=others)
            if len(compared) < len(folds) and len(results) == len(folds):
                row["all_folds"] = scores(samples, results)
            if device.type == "cuda":
                row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            rows = [r for r in rows if (r["seed"], r["engine"]) != (seed, engine)] + [row]
            peak = f", peak {row['peak_gib']:.1f} GiB" if "peak_gib" in row else ""
            whole = ""
            if "all_folds" in row:
                whole = f"; all folds UF1 {row['all_folds']['uf1']:.3f} UAR {row['all_folds']['uar']:.3f}"
            print(f"  {engine:10s} {seconds:9.1f} s  {row['samples_per_s']:9.1f} training samples/s  "
                  f"UF1 {row['uf1']:.3f}  UAR {row['uar']:.3f}{whole}  (load average {row['load']}{peak})", flush=True)
            if args.json:
                write_json(args.json, {"setting": setting, "rows": rows})

    summary = summarize(sorted(rows, key=lambda r: (r["seed"], r["engine"])), ["sequential", "stacked"])
    if args.json:
        write_json(args.json, {"setting": setting, "rows": rows, "summary": summary})


if __name__ == "__main__":
    main()
