"""The main job on the built-in default, end to end, sized for minutes on 2 CPU cores.

1. Synthetic clips -> the paper's four inputs (apex, TV-L1 flow onset->apex, dynamic image,
   MESTI) -> MEGANet and one torchvision baseline under subject-wise cross-validation.
2. One model on every subject (MESTI + MEGANet, the paper's method: fixed here, never picked
   from the grid's figures), shipped as a bundle whose card quotes the grid's honest figures
   for those same settings.
3. A synthetic long video -> spotting -> each spotted interval classified by the bundle ->
   report.html, scored against the video's known expressions (STRS).

It sits above every stage (a top-level module, below the CLI only). The numbers are for
seeing the method work, not for comparison with the paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesti.studies.grid import GridSpec, run_grid
from mesti.utils.atomic import write_json
from mesti.utils.hooks import Hooks
from mesti.utils.outputs import DEMO_MARKER, output_kind, output_scope, prepare_output_dir

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
    #: The long video of step 3: one subject's recording at 30 fps.
    long_seconds: float = 30.0
    long_fps: float = 30.0

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(subjects=4, clips_per_subject=4, size=64, img_size=32, epochs=1, folds=2, long_seconds=8.0)


#: The bundle of step 2: the paper's method, fixed in advance.
BUNDLE_MODALITY, BUNDLE_MODEL = "mesti", "meganet"


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


@dataclass
class DemoResult:
    """What the demo made: the grid's rows, the bundle, the long video and its analysis."""

    rows: list[dict[str, Any]]
    bundle: Path
    video: Path
    analysis: Path
    scores: dict[str, Any] | None


class _LaterSteps(Hooks):
    """Steps 2 and 3 on one line for the caller: the stage ``demo``, its description saying
    which step (the bundle's epochs, the long video's frames, the analysis's stages)."""

    def __init__(self, hooks: Hooks | None) -> None:
        self.hooks = hooks

    def stage_advanced(self, stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        if self.hooks is not None:
            self.hooks.stage_advanced("demo", done, total, "long video" if stage == "synth long" else f"analyze: {stage}")

    def epoch_ended(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None:
        if self.hooks is not None:
            self.hooks.stage_advanced("demo", epoch, total,
                                      f"bundle {BUNDLE_MODALITY} + {BUNDLE_MODEL}, epoch {epoch}/{total}")


@output_scope()  # the demo's folder is locked until it ends
def run_demo(
    out: str | Path,
    settings: DemoSettings | None = None,
    *,
    hooks: Hooks | None = None,
    command: str = "mesti demo",
) -> DemoResult:
    """Generate (or reuse) the data in ``out/data``, run the grid into ``out/grid``, train the
    bundle ``out/model``, make ``out/long`` and analyse its first video into ``out/analysis``.
    Each step reuses what an earlier run of the same demo finished. ``hooks`` sees the stages
    ``synth`` (the data), ``cells`` (the grid, with its folds and epochs) and ``demo`` (the
    rest). ``out`` must be missing,
    empty or an earlier demo: the demo never writes among other files."""
    from dataclasses import asdict

    from mesti.synth.generate import SHEET_NAME, generate_dataset

    s = settings or DemoSettings()
    out = prepare_output_dir(out, "demo")
    if not (out / DEMO_MARKER).is_file():  # first, so an interrupted first run is still a demo
        write_json(out / DEMO_MARKER, {"command": command, "settings": asdict(s)})
    data = out / "data"
    if output_kind(data) != "synthetic dataset" or not (data / SHEET_NAME).is_file():
        generate_dataset(data, subjects=s.subjects, clips_per_subject=s.clips_per_subject,
                         size=s.size, seed=s.seed, hooks=hooks)
    spec = demo_grid(data, out / "cache", s)
    rows = run_grid(spec, out / "grid", command=command, hooks=hooks)
    later = _LaterSteps(hooks)
    bundle = _bundle(out, spec, s, command, later)
    video, sheet = _long_video(out, s, later)
    analysis, scores = _analysis(out, video, sheet, bundle, s, later)
    return DemoResult(rows, bundle, video, analysis, scores)


def _bundle(out: Path, grid: GridSpec, s: DemoSettings, command: str, hooks: Hooks) -> Path:
    """Step 2: MESTI + MEGANet on every subject, estimated by the grid's cell of the same settings."""
    from mesti.bundle import is_bundle
    from mesti.bundle.train import train_bundle
    from mesti.studies.inputs import load_samples

    path = out / "model"
    if is_bundle(path):
        return path
    prepare_output_dir(path, "bundle")  # refused before the training, not after it
    label, study, run_dir = next(c for c in grid.studies(out / "grid")
                                 if c[1].modality == BUNDLE_MODALITY and c[1].model == BUNDLE_MODEL)
    inputs = load_samples(study)
    cfg = study.train_config(study.seeds[0])

    train_bundle(inputs, study.model, cfg, path, img_size=study.img_size, command=command,
                 estimate=run_dir if (run_dir / "metrics.json").is_file() else None, hooks=hooks)
    return path


def _long_video(out: Path, s: DemoSettings, hooks: Hooks) -> tuple[Path, Path]:
    """Step 3a: one synthetic long video (SAMM long-video layout, with its sheet)."""
    from mesti.synth.long.generate import TRUTH_FILE, VIDEO_FOLDER, generate_long_videos
    from mesti.synth.long.sheet import SHEET_FILE

    folder = out / "long"
    if output_kind(folder) != "synthetic dataset" or not (folder / TRUTH_FILE).is_file():
        generate_long_videos(folder, subjects=1, videos_per_subject=1, seconds=s.long_seconds, fps=s.long_fps,
                             size=s.size, seed=s.seed, hooks=hooks)
    video = next(p for p in sorted((folder / VIDEO_FOLDER).iterdir()) if p.is_dir())
    return video, folder / SHEET_FILE


def _analysis(out: Path, video: Path, sheet: Path, bundle: Path, s: DemoSettings,
              hooks: Hooks) -> tuple[Path, dict[str, Any] | None]:
    """Step 3b: spot (flow), classify every interval with the bundle, score against the sheet."""
    import json

    from mesti.analysis import analyze

    folder = out / "analysis"
    if output_kind(folder) != "analysis":
        prepare_output_dir(folder, "analysis")
        result = analyze(video, bundle, method="flow", fps=s.long_fps, truth=sheet, hooks=hooks)
        result.write(folder)
    scores = json.loads((folder / "intervals.json").read_text()).get("scores")
    return folder, scores
