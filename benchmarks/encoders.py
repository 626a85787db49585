"""Clips per second for every encoder at 224 x 224, T = 40 frames, and MESTI / TV-L1.

A benchmark, not a test: it prints figures and ratios measured in one run on this machine.
    python benchmarks/encoders.py [--size 224] [--frames 40] [--seconds 3]
    python benchmarks/encoders.py --modalities mesti,apex --paths numpy,cuda --json encoders.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from pathlib import Path

import numpy as np
import torch

from mesti.clips import load_clip
from mesti.modalities import ClipBatch, encode, encode_batch, list_modalities


def make_clip(size: int, frames: int, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    shifts = np.rint(np.hanning(frames) * 2).astype(int)
    stack = np.stack([np.roll(base, s, axis=1) for s in shifts])
    return load_clip(stack, apex=frames // 2)


def rate(fn, min_seconds: float, per_call: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n * per_call / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--modalities", default="", help="Comma-separated encoders (default: every one).")
    ap.add_argument("--paths", default="", help="numpy and the torch devices to time, comma-separated "
                    "(default: numpy,cpu, and cuda where there is one).")
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = ap.parse_args()
    clip = make_clip(args.size, args.frames, 0)
    clips = [make_clip(args.size, args.frames, i) for i in range(args.batch)]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()] or ["numpy", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "numpy" not in paths:
        raise SystemExit("--paths must include numpy (the reference every ratio is taken against)")
    devices = [p for p in paths if p != "numpy"]
    names = [m.strip() for m in args.modalities.split(",") if m.strip()] or list_modalities()
    if unknown := set(names) - set(list_modalities()):
        raise SystemExit(f"unknown modality(ies) {', '.join(sorted(unknown))}")
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, clip {args.frames} x {args.size} x {args.size} x 3 uint8")
    print(f"{'encoder':26s} {'numpy clips/s':>14s} " + " ".join(f"{'torch ' + d + ' clips/s':>18s}" for d in devices))
    numpy_rates: dict[str, float] = {}
    rows = []
    for name in names:
        numpy_rates[name] = rate(lambda n=name: encode(clip, n), args.seconds, 1)
        cells = [f"{numpy_rates[name]:14.1f}"]
        row = {"encoder": name, "numpy": numpy_rates[name]}
        for dev in devices:
            batch = ClipBatch.from_clips(clips, device=dev)

            def run(n: str = name, b: ClipBatch = batch) -> None:
                encode_batch(b, n)
                if b.device.type == "cuda":
                    torch.cuda.synchronize()

            row[f"torch_{dev}"] = rate(run, args.seconds, len(clips))
            cells.append(f"{row[f'torch_{dev}']:18.1f}")
        rows.append(row)
        print(f"{name:26s} " + " ".join(cells), flush=True)
    if {"mesti", "flow_onset_apex"} <= set(numpy_rates):
        ratio = numpy_rates["mesti"] / numpy_rates["flow_onset_apex"]
        print(f"MESTI / TV-L1 flow (numpy path, same run): {ratio:.0f}x")
    gb = args.frames * args.size * args.size * 3 / 1e9
    if "mesti" in numpy_rates:
        print(f"MESTI reads {gb * 1e3:.1f} MB of uint8 frames per clip: {numpy_rates['mesti'] * gb:.2f} GB/s of frames")
    if args.json:
        setting = {"size": args.size, "frames": args.frames, "batch": args.batch, "seconds": args.seconds,
                   "torch": torch.__version__, "threads": torch.get_num_threads(),
                   "cuda": torch.cuda.get_device_name() if "cuda" in devices else None}
        tmp = args.json.with_name(args.json.name + ".tmp")
        tmp.write_text(json.dumps({"setting": setting, "rows": rows}, indent=2))
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
