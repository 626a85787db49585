"""The main job on the built-in default: synthetic data -> modalities -> a small grid -> report.

It compares the paper's four inputs (apex, TV-L1 flow onset->apex, dynamic image, MESTI)
on MEGANet and one torchvision baseline under subject-wise cross-validation, sized to finish
in minutes on 2 CPU cores: small network inputs and a short fixed schedule. The numbers are
for seeing the method work end to end, not for comparison with the paper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesti.training.grid import GridSpec, run_grid

MODALITIES = ["apex", "flow_onset_apex", "dynamic_image", "mesti"]
MODELS = ["meganet", "resnet50"]


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs; ``quick()`` is a seconds-long version for tests."""

    subjects: int = 16
    clips_per_subject: int = 10
    #: The default set is generated with its 5 emotions and read with the MEGC 2019 3-class
    #: mapping (negative / positive / surprise; "others" left out), as the composite is.
    classes: int = 3
    size: int = 128
    img_size: int = 48
    epochs: int = 10
    batch_size: int = 16
    folds: int = 4
    seed: int = 0

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(subjects=4, clips_per_subject=4, size=64, img_size=32, epochs=1, folds=2)


def demo_grid(data: Path, cache: Path, s: DemoSettings) -> GridSpec:
    return GridSpec(
        datasets=[{"name": "casme2", "root": str(data), "classes": s.classes}],
        modalities=list(MODALITIES),
        models=list(MODELS),
        protocols=[{"name": "kfold", "k": s.folds, "seed": s.seed}],
        training={"epochs": s.epochs, "batch_size": s.batch_size, "seed": s.seed},
        size=s.size,
        img_size=s.img_size,
        face="none",  # synthetic frames are face crops already
        cache=str(cache),
    )


def run_demo(
    out: str | Path,
    settings: DemoSettings | None = None,
    *,
    on_generate: Callable[[int, int], None] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    command: str = "mesti demo",
) -> list[dict[str, Any]]:
    """Generate (or reuse) the dataset in ``out/data`` and run the grid into ``out/grid``."""
    from mesti.synth.generate import SHEET_NAME, generate_dataset

    s = settings or DemoSettings()
    out = Path(out)
    data = out / "data"
    if not (data / SHEET_NAME).is_file():
        generate_dataset(data, subjects=s.subjects, clips_per_subject=s.clips_per_subject,
                         size=s.size, seed=s.seed, progress=on_generate)
    spec = demo_grid(data, out / "cache", s)
    return run_grid(spec, out / "grid", command=command, on_progress=on_progress)
