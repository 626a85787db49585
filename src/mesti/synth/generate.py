"""``generate_dataset``: a synthetic micro-expression set in the CASME II release layout.

Output (read back by the ``casme2`` adapter, the same code that reads the real dataset)::

    OUT_DIR/coding.xlsx                 CASME II columns, one row per clip
    OUT_DIR/sub01/EP01_01f/img37.jpg    frames onset..offset, numbered as in the sheet
    OUT_DIR/synth.json                  settings and ground truth (AUs, true apex, nuisances)
    OUT_DIR/contact_sheet.png           per class: onset, apex, offset and MESTI of one clip

The set is built in a temporary folder beside OUT_DIR and renamed into place at the end, so
a failure or Ctrl-C leaves nothing half-written. Subjects render in parallel worker
processes; every random draw comes from the seed and the clip's place in the plan, so the
bytes do not depend on the number of workers.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mesti.synth.faces import available_photos, photo_landmarks
from mesti.synth.identity import make_face
from mesti.synth.plan import ClipSpec, DatasetPlan, SubjectSpec, plan_dataset
from mesti.synth.render import FaceRig, encode_jpeg, render_clip
from mesti.synth.sheet import coding_sheet_bytes
from mesti.errors import MestiError
from mesti.utils.atomic import atomic_dir
from mesti.utils.hooks import Hooks
from mesti.utils.ranges import SEED
from mesti.utils.outputs import SYNTH_MARKER, output_scope, prepare_new_dir

SHEET_NAME = "coding.xlsx"
TRUTH_NAME = SYNTH_MARKER
CONTACT_SHEET_NAME = "contact_sheet.png"
MIN_SIZE = 32
#: Below this many frames a worker pool costs more than it saves.
_POOL_MIN_FRAMES = 3000

@dataclass(frozen=True)
class SynthResult:
    """What :func:`generate_dataset` made: where, what (the plan), and how long it took."""

    path: Path
    plan: DatasetPlan
    frames: int
    seconds: float
    photos: tuple[str, ...]

    @property
    def sheet(self) -> Path:
        return self.path / SHEET_NAME


def _check_args(subjects: int, clips_per_subject: int, classes: int, size: int, noise: float) -> None:
    if subjects < 1:
        raise MestiError("--subjects", f"needs at least 1 subject, got {subjects}")
    if subjects > 99:
        raise MestiError("--subjects", f"at most 99 subjects (folders sub01..sub99), got {subjects}")
    if clips_per_subject < 1:
        raise MestiError("--clips-per-subject", f"needs at least 1 clip per subject, got {clips_per_subject}")
    if clips_per_subject > 99:
        raise MestiError("--clips-per-subject", f"at most 99 clips per subject (EP01..EP99), got {clips_per_subject}")
    if classes not in (3, 5):
        raise MestiError("--classes", f"3 (negative, positive, surprise) or 5 (CASME II's classes), not {classes}")
    if size < MIN_SIZE:
        raise MestiError("--size", f"frames must be at least {MIN_SIZE} px, got {size}")
    if size > 1024:
        raise MestiError("--size", f"frames of at most 1024 px, got {size}")
    if not 0 <= noise < math.inf:
        raise MestiError("--noise", f"sensor noise is a standard deviation (0 or more, finite), not {noise}")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _worker_init() -> None:
    cv2.setNumThreads(1)  # the pool already uses every core


def _render_subject(
    out_dir: str, subject: SubjectSpec, clips: list[ClipSpec], size: int, landmarks: np.ndarray | None
) -> int:
    """Render and write every clip of one subject (runs in a worker); returns frames written."""
    rig = FaceRig(make_face(subject.source, subject.variant, subject.seed, size, landmarks))
    written = 0
    for spec in clips:
        folder = Path(out_dir) / spec.folder
        folder.mkdir(parents=True, exist_ok=True)
        for k, frame in enumerate(render_clip(rig, spec)):
            (folder / f"img{spec.onset_frame + k}.jpg").write_bytes(encode_jpeg(frame, subject.jpeg_quality))
            written += 1
    return written


def _run(tmp: Path, plan: DatasetPlan, size: int, workers: int, hooks: Hooks | None) -> int:
    by_subject = {s.subject: [c for c in plan.clips if c.subject == s.subject] for s in plan.subjects}
    points = {s.subject: None if s.source == "procedural" else photo_landmarks(s.source) for s in plan.subjects}
    total, done, frames = len(plan.clips), 0, 0
    if hooks is not None:
        hooks.stage_advanced("synth", 0, total)
    if workers <= 1:
        for s in plan.subjects:
            frames += _render_subject(str(tmp), s, by_subject[s.subject], size, points[s.subject])
            done += len(by_subject[s.subject])
            if hooks is not None:
                hooks.stage_advanced("synth", done, total)
        return frames
    # spawn: safe whatever threads the parent runs (torch, OpenCV), the same on every OS.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)
    try:
        futures = {pool.submit(_render_subject, str(tmp), s, by_subject[s.subject], size, points[s.subject]): s
                   for s in plan.subjects}
        for fut in as_completed(futures):
            frames += fut.result()
            done += len(by_subject[futures[fut].subject])
            if hooks is not None:
                hooks.stage_advanced("synth", done, total)
    except BaseException:
        # Ctrl-C or a failure: drop the subjects not started, wait for the running ones to
        # stop writing, then the caller removes the temporary folder.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return frames


def _truth(plan: DatasetPlan, settings: dict[str, object], photos: list[str]) -> str:
    doc = {
        "generator": "mesti synth",
        "settings": settings,
        "photos": photos,
        "layout": "CASME II release: subNN/<Filename>/img<frame>.jpg, sheet coding.xlsx",
        "units": "amplitudes and drift in pixels at 224 px face width; frame indices 0 = onset",
        **plan.to_json(),
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True)
class SynthSettings:
    """What a synthetic set is (recorded in its truth file): one seed and these give the same
    set, whatever the workers or the output folder."""

    subjects: int = 16
    clips_per_subject: int = 10
    classes: int = 5
    size: int = 128
    seed: int = 0
    real_faces: bool = True
    noise: float = 1.5


@output_scope()  # the folder is locked until the dataset is written
def generate_dataset(
    out_dir: str | os.PathLike[str],
    settings: SynthSettings | None = None,
    *,
    overwrite: bool = False,
    workers: int | None = None,
    contact_sheet: bool = True,
    hooks: Hooks | None = None,
    **fields: Any,
) -> SynthResult:
    """Write a synthetic micro-expression dataset to ``out_dir`` (see the module docstring).

    ``settings`` (default :class:`SynthSettings`); ``fields`` replace its fields by name, so
    ``generate_dataset("synth", subjects=4, seed=1)`` reads as before.

    ``classes`` 5 draws happiness, disgust, repression, surprise and others with CASME II's
    imbalance; 3 draws the emotions of the MEGC 2019 negative/positive/surprise classes.
    ``real_faces=False`` uses procedural faces only (also what happens without dlib).
    ``noise`` is the sensor noise in grey levels. The stage ``synth`` on ``hooks``
    counts the clips finished. Raises :class:`MestiError` for bad arguments before writing anything.
    ``workers`` > 1 starts fresh ("spawn") processes, so a script calling this with workers
    must do so under ``if __name__ == "__main__":``; the default uses them only for sets of
    a few thousand frames or more.
    """
    chosen = replace(settings or SynthSettings(), **fields)
    subjects, clips_per_subject, classes, size, seed, real_faces, noise = (
        chosen.subjects, chosen.clips_per_subject, chosen.classes, chosen.size, chosen.seed, chosen.real_faces,
        chosen.noise)
    out = Path(out_dir)
    _check_args(subjects, clips_per_subject, classes, size, noise)
    SEED.check(seed)
    if workers is not None and workers < 1:
        raise MestiError("--workers", f"needs at least 1 worker, got {workers}")
    prepare_new_dir(out, "synthetic dataset", overwrite=overwrite, option="OUT_DIR")
    start = time.perf_counter()
    photos = available_photos() if real_faces else []
    plan = plan_dataset(seed, subjects, clips_per_subject, classes, photos, noise_level=noise)
    n_frames = sum(c.length for c in plan.clips)
    if workers is None:
        workers = min(os.cpu_count() or 1, subjects, 8) if n_frames >= _POOL_MIN_FRAMES else 1
    try:
        with atomic_dir(out, "synthetic dataset", option="OUT_DIR") as tmp:
            frames = _run(tmp, plan, size, workers, hooks)
            (tmp / SHEET_NAME).write_bytes(coding_sheet_bytes(plan.clips))
            (tmp / TRUTH_NAME).write_text(_truth(plan, asdict(chosen), photos), encoding="utf-8")
            if contact_sheet:
                from mesti.synth.preview import class_contact_sheet

                class_contact_sheet(tmp, plan, classes, tmp / CONTACT_SHEET_NAME)
            tmp.chmod(0o777 & ~_umask())  # mkdtemp made it private; a dataset is shared like any folder
    except OSError as exc:
        raise MestiError(out, f"cannot write the dataset ({exc.strerror or exc})") from None
    return SynthResult(out, plan, frames, time.perf_counter() - start, tuple(photos))
