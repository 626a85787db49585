"""One unit of prepare's work: a clip read once, preprocessed once, encoded per missing modality.

Kept apart from the scheduler so a worker process imports only what it needs, and so each
image is written (atomically) as soon as it exists: an interrupted run keeps every image
finished before the interruption.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from mesti.cache.store import write_entry
from mesti.datasets.base import ClipRecord
from mesti.errors import MestiError
from mesti.pipeline import Pipeline


@dataclass(frozen=True)
class Target:
    """One image to compute: which pipeline (face step, modality and options), to which file."""

    pipeline: Pipeline
    path: Path

    @property
    def modality(self) -> str:
        return str(self.pipeline.modality)


@dataclass(frozen=True)
class Job:
    """One clip and its images; every target's pipeline shares the job's face step, so the
    clip is read and preprocessed once (``pipeline.prepare``) and encoded per target."""

    position: int  # the clip's position in prepare's list of labelled records
    record: ClipRecord
    pipeline: Pipeline
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Outcome:
    position: int
    key: str
    written: tuple[str, ...]
    error: str | None = None
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    detail: str | None = field(default=None, repr=False)  # traceback of an unexpected error


def die_with_parent(parent: int) -> None:
    """End this worker when ``parent`` (the prepare process) dies, however it dies: ``kill -9``
    gives the parent no chance to stop its pool, and an orphan would go on computing and
    writing into the cache. On Linux the kernel sends SIGKILL (``PR_SET_PDEATHSIG``);
    elsewhere a thread checks the parent once a second."""
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="mesti-parent-watch", daemon=True).start()


def init_worker(parent: int | None = None) -> None:
    """One thread per worker process (the processes already use every core), and no worker
    outlives ``parent``, the process that started the pool."""
    if parent is not None:
        die_with_parent(parent)
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def run_job(job: Job) -> Outcome:
    """Compute and store every target of one clip; errors come back as data, never raised.

    A :class:`MestiError` (no face, missing or unreadable frame) is the clip's fault and is
    reported as such; anything else is reported with its traceback so a bug is visible in
    the report while the rest of the dataset is still prepared.
    """
    start = time.perf_counter()
    written: list[str] = []
    notes: tuple[str, ...] = ()
    try:
        clip = job.pipeline.prepare(job.record.load())
        notes = tuple(clip.meta.get("warnings", ())) + tuple(clip.meta.get("face", {}).get("notes", ()))
        for target in job.targets:
            image = target.pipeline.encode(clip)
            if tuple(image.shape) != target.pipeline.image_shape:
                got, want = tuple(image.shape), target.pipeline.image_shape
                raise MestiError(job.record.key, f"{target.modality} gave an image of shape {got}, expected {want}")
            write_entry(target.path, image)
            written.append(target.modality)
    except MestiError as exc:
        return Outcome(job.position, job.record.key, tuple(written), str(exc), notes, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - reported per clip, with the traceback
        return Outcome(job.position, job.record.key, tuple(written), f"{job.record.key}: {type(exc).__name__}: {exc}",
                       notes, time.perf_counter() - start, traceback.format_exc())
    return Outcome(job.position, job.record.key, tuple(written), None, notes, time.perf_counter() - start)
