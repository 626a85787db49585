"""``--estimate RUN_DIR``: the honest figures a bundle carries come from a subject-independent
run of the same settings, never from the bundle's own training data.

A model trained on every subject has no test subject left, so how good it is can only be
estimated by a run that held subjects out (LOSO or subject-wise k-fold) with the same data,
modality, preprocessing, network and recipe. A run with other settings is refused, naming
what differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesti.errors import MestiError
from mesti.reports.metrics import read_metrics
from mesti.reports.runconfig import read_run_config

# Settings that do not change what is learned: where it ran, the run seed (the estimate
# is of the procedure; both seeds are recorded), and whether the leaky oracle was recorded
# beside it (it changes no honest prediction).
_IGNORED_TRAINING = ("device", "amp", "channels_last", "seed", "report_oracle")
_HONEST = ("loso", "kfold")


def comparable(settings: dict[str, Any]) -> dict[str, Any]:
    """The part of a run's (or a bundle's) settings an estimate must share."""
    dataset = settings.get("dataset") or {}
    return {
        "dataset": {"name": dataset.get("name"), "classes": dataset.get("classes")},
        "classes": list(settings.get("classes") or []),
        "samples": settings.get("samples"),
        "modality": settings.get("modality"),
        "modality_options": settings.get("modality_options") or {},
        "preprocess": settings.get("preprocess"),
        "model": settings.get("model"),
        "training": {k: v for k, v in (settings.get("training") or {}).items() if k not in _IGNORED_TRAINING},
    }


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [f"{prefix[:-1]} ({b!r} there, {a!r} here)"]


def open_estimate_run(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and checked metrics of a finished subject-independent run, or a one-line
    refusal saying what ``run_dir`` is instead. Needs no data, so ``mesti train`` calls it
    before preparing anything."""
    run_dir = Path(run_dir)
    config_path, metrics_path = run_dir / "config.yaml", run_dir / "metrics.json"
    if not run_dir.is_dir():
        raise MestiError(run_dir, "no such run directory" if not run_dir.exists() else
                         "a file, not a run directory (give the folder of a finished `mesti loso` run)")
    if (run_dir / "bundle.json").is_file():
        raise MestiError(run_dir, "a model bundle, not a run: give the `mesti loso` run with the same settings, "
                                  "whose held-out figures estimate the model")
    seeds = sorted(p.name for p in run_dir.glob("seed-*") if p.is_dir())
    if seeds:
        raise MestiError(run_dir, f"a run over {len(seeds)} seed(s): give one seed's run (e.g. {run_dir / seeds[0]}); "
                                  "its figures are recorded with its seed")
    if not config_path.is_file():
        raise MestiError(run_dir, "not a run directory (no config.yaml): give the folder of a finished `mesti loso` run")
    if not metrics_path.is_file():
        raise MestiError(run_dir, "the run is not finished (no metrics.json); finish it first")
    config = read_run_config(config_path)
    metrics = read_metrics(metrics_path)  # figures no run produces (UF1 99, accuracy -5) are refused here
    protocol = config.get("protocol") or {}
    if not isinstance(protocol, dict):
        raise MestiError(config_path, f"'protocol' must be a mapping, got {protocol!r}")
    if protocol.get("name") not in _HONEST:
        raise MestiError(run_dir, f"its protocol ({protocol.get('description', protocol.get('name'))}) does not hold "
                                  "subjects out; estimate with a `mesti loso` run")
    return config, metrics


def read_estimate(run_dir: str | Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The finished run's pooled figures, if it was subject-independent and shares ``settings``."""
    run_dir = Path(run_dir)
    config, metrics = open_estimate_run(run_dir)
    protocol = config["protocol"]
    diff = _differences(comparable(settings), comparable(config))
    if diff:
        raise MestiError(run_dir, f"was run with other settings, so its figures do not estimate this model; "
                                  f"differs in: {'; '.join(diff)}")
    return {
        "run": str(run_dir), "protocol": metrics.get("protocol", protocol.get("description")),
        "n": metrics.get("n"), "n_folds": protocol.get("n_folds"),
        "accuracy": metrics.get("accuracy"), "uf1": metrics.get("uf1"), "uar": metrics.get("uar"),
        "run_seed": (config.get("training") or {}).get("seed"), "run_mesti_version": config.get("mesti_version"),
    }
