"""Generation time and difficulty of the default synthetic set (issue 3, items 5 and 6).

    python benchmarks/synth_difficulty.py                 # default set: 16 subjects x 10 clips, 5 classes
    python benchmarks/synth_difficulty.py --classes 3 --flow

Generates the set into a temporary folder (or --out), then scores a leave-one-subject-out
logistic regression on the apex frame, on MESTI and on MESTI turned into motion (and on
TV-L1 flow with --flow). The apex frame must sit near chance and MESTI clearly above it.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from mesti.synth import generate_dataset
from mesti.synth.difficulty import DEFAULT_FEATURES, difficulty_check


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=16)
    p.add_argument("--clips-per-subject", type=int, default=10)
    p.add_argument("--classes", type=int, default=5, choices=(3, 5))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--flow", action="store_true", help="also score TV-L1 flow (one TV-L1 per clip: slower)")
    p.add_argument("--out", type=Path, default=None, help="keep the set here (default: a temporary folder)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "synth"
        cpu0, t0 = _cpu_seconds(), time.perf_counter()
        result = generate_dataset(out, subjects=args.subjects, clips_per_subject=args.clips_per_subject,
                                  classes=args.classes, size=args.size, seed=args.seed, workers=args.workers,
                                  overwrite=args.out is not None)
        wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
        print(f"mesti synth: {len(result.plan.clips)} clips, {result.frames} frames at {args.size}x{args.size}, "
              f"{args.subjects} subjects ({len(result.photos)} photos available), seed {args.seed}")
        print(f"generation: {wall:.1f} s wall, {cpu:.1f} s CPU, on {os.cpu_count()} cores")
        features = (*DEFAULT_FEATURES, "flow") if args.flow else DEFAULT_FEATURES
        t1 = time.perf_counter()
        scores = difficulty_check(out, classes=args.classes, features=features)
        print(f"difficulty, leave-one-subject-out logistic regression ({time.perf_counter() - t1:.1f} s):")
        for s in scores:
            print("  " + s.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
