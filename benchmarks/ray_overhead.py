"""The Ray executor's overhead against the local one, on a 4-cell grid of synthetic data.

A benchmark, not a test: it prints wall times measured in one run on this machine. The
synthetic set is generated and its modalities prepared first (not timed), so both
executors read the same cache; the Ray cluster is started on this machine by the script
and its start-up is reported apart from the grid.
    python benchmarks/ray_overhead.py [--epochs 2] [--cpus 2]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from mesti.synth.generate import generate_dataset
from mesti.studies.executors import ExecutorSpec
from mesti.studies.grid import GridSpec, run_grid
from mesti.studies.inputs import load_samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster (one per task)")
    args = ap.parse_args()
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_dataset(root / "data", subjects=4, clips_per_subject=4, size=64, seed=0)
        spec = GridSpec(datasets=[{"name": "casme2", "root": str(root / "data"), "classes": 3}],
                        modalities=["apex", "mesti"], models=["ststnet", "off_apexnet"],
                        protocols=[{"name": "kfold", "k": 2}], size=64, face="none", cache=str(root / "cache"),
                        training={"epochs": args.epochs, "device": "cpu"})
        for _, study, _ in spec.studies(root)[::2]:  # one per modality: fills the shared cache
            load_samples(study)
        start = time.perf_counter()
        local = run_grid(spec, root / "local")
        t_local = time.perf_counter() - start
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        t_init = time.perf_counter() - start
        start = time.perf_counter()
        remote = run_grid(spec, root / "ray", executor=ExecutorSpec(name="ray"))
        t_ray = time.perf_counter() - start
        ray.shutdown()
    same = [(r["uf1"], r["uar"]) for r in local] == [(r["uf1"], r["uar"]) for r in remote]
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"ray {ray.__version__}")
    print(f"grid: 4 cells (apex, mesti x STSTNet, Off-ApexNet), subject-wise 2-fold, {args.epochs} epochs, "
          "16 synthetic clips")
    print(f"local executor: {t_local:.1f} s ({t_local / 4:.1f} s per cell)")
    print(f"ray executor:   {t_ray:.1f} s on a {args.cpus}-CPU local cluster (+ {t_init:.1f} s to start it)")
    print(f"overhead: {t_ray - t_local:+.1f} s ({t_ray / t_local:.2f}x); same metrics: {same}")


if __name__ == "__main__":
    main()
