"""Issue 19 item 5: one hooks object carries a long run's progress; the library imports no rich."""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import numpy as np
import pytest

import mesti
from mesti.utils.hooks import Functions, Hooks, Recorder, combine


def test_prepare_reports_its_clips_as_the_prepare_stage(tmp_path: Path) -> None:
    from mesti.cache import prepare
    from mesti.datasets.registry import create_dataset
    from tests.cache.casme2_tree import write_tree
    from tests.cache.conftest import FAST

    adapter = create_dataset("casme2", write_tree(tmp_path / "CASME2_RAW_selected"))
    rec = Recorder()
    report = prepare(adapter, ["mesti"], tmp_path / "cache", config=FAST, workers=1, hooks=rec)
    n = report.computed
    assert n > 0
    assert rec.events == [("stage_started", "prepare", n, "preparing"),
                          *[("stage_advanced", "prepare", i, n, None) for i in range(1, n + 1)]]
    again = Recorder()
    prepare(adapter, ["mesti"], tmp_path / "cache", config=FAST, workers=1, hooks=again)
    assert again.events == []  # nothing to compute, nothing to show


def test_a_study_reports_every_fold_and_epoch_in_order(tmp_path: Path) -> None:
    from mesti.studies.inputs import load_samples
    from mesti.studies.spec import DatasetSpec, StudySpec, run_study
    from tests.studies.image_tree import image_folder

    manifest = image_folder(tmp_path / "images")
    spec = StudySpec(dataset=DatasetSpec("images", str(tmp_path / "images"), manifest=str(manifest)), model="ststnet",
                     training={"epochs": 2, "device": "cpu"})
    rec = Recorder()
    run_study(spec, tmp_path / "run", load_samples(spec), hooks=rec)
    folds = rec.named("fold_started")
    assert [(i, n) for _, i, n in folds] == [(0, 3), (1, 3), (2, 3)]  # three subjects, leave one out
    assert [e[:2] for e in rec.events if e[0] != "fold_started"] == [("epoch_ended", 1), ("epoch_ended", 2)] * 3
    assert all("train_loss" in e[3] for e in rec.events if e[0] == "epoch_ended")  # type: ignore[operator]
    resumed = Recorder()
    run_study(spec, tmp_path / "run", load_samples(spec), hooks=resumed)
    assert resumed.named("fold_started") == folds and not resumed.named("epoch_ended")  # finished folds are skipped


def test_spotting_reports_frames_as_the_spot_stage(tmp_path: Path) -> None:
    from mesti.clips.stream import open_stream
    from mesti.spotting.registry import create_spotter, spot_stream

    rng = np.random.default_rng(0)
    for k in range(250):
        cv2.imwrite(str(tmp_path / f"f{k:04d}.png"), rng.integers(0, 255, (24, 24), dtype=np.uint8))
    rec = Recorder()
    spot_stream(create_spotter("naive"), open_stream(tmp_path, fps=30), hooks=rec)
    assert rec.events == [("stage_advanced", "spot", 100, 250, None), ("stage_advanced", "spot", 200, 250, None)]


def test_combined_hooks_each_see_every_event_and_functions_name_real_events() -> None:
    a, b = Recorder(), Recorder()
    both = combine(a, None, b)
    both.stage_started("x", 3, "doing x")
    both.stage_advanced("x", 1, 3)
    both.stage_ended("x")
    both.fold_started("s1", 0, 2)
    both.epoch_ended(1, 5, {"train_loss": 0.5})
    assert a.events == b.events and len(a.events) == 5
    assert combine(a) is a
    seen: list[int] = []
    Functions(epoch_ended=lambda e, n, m: seen.append(e)).epoch_ended(4, 5, {})
    assert seen == [4]
    with pytest.raises(TypeError, match="on_epoch"):
        Functions(on_epoch=print)
    Hooks().stage_advanced("anything", 1)  # the base class does nothing, and needs nothing


def _imports_rich(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(n == "rich" or n.startswith("rich.") for n in names):
            return True
    return False


def test_only_the_command_line_imports_rich() -> None:
    root = Path(mesti.__file__).parent
    outside = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if p.relative_to(root).parts[0] != "cli" and _imports_rich(p))
    assert outside == []
    assert _imports_rich(root / "cli" / "common.py")  # the walk does find an import of rich
