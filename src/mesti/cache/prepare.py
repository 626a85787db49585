"""``prepare``: every requested modality of every labelled clip, computed once into a cache.

The run is planned before anything is computed: each (clip, modality) gets its cache key
(see :mod:`mesti.cache.keys`); entries whose file is present and well-formed are reused,
damaged ones are deleted and rebuilt, the rest are grouped by clip into jobs so a clip's
frames are read and preprocessed once for all its missing modalities. Jobs run in worker
processes; a clip that fails is reported and the run goes on.

Each modality's ``index.json`` lists the clips that have every requested modality, so all
modalities of one run cover the same clips and compare fairly.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mesti.cache.keys import CACHE_FORMAT, encoder_fingerprint, entry_key, frames_fingerprint, jsonable
from mesti.cache.store import REPORT_NAME, IndexEntry, entry_ok, entry_path, write_index
from mesti.cache.work import Job, Outcome, Target, init_worker, run_job
from mesti.datasets.base import ClipRecord
from mesti.datasets.registry import DatasetAdapter
from mesti.errors import MestiError
from mesti.pipeline import encoding_pipeline
from mesti.preprocessing.config import PreprocessConfig
from mesti.utils.atomic import write_json
from mesti.utils.hooks import Hooks, or_none
from mesti.utils.places import make_folder
from mesti.utils.outputs import output_scope, prepare_output_dir


@dataclass
class PrepareReport:
    """What a prepare run did; written to ``CACHE/prepare_report.json`` (first when the run
    starts, marked interrupted, so a cache whose first run was killed is still recognised as
    one and resumed; again when it ends).

    ``prepared``: labelled clips that now have every requested modality; ``skipped``: those
    that failed (``failures`` says why); ``excluded``: clips outside the class set.
    ``computed`` / ``reused`` / ``rebuilt`` count images (clip x modality).
    """

    dataset: str
    out: str
    modalities: list[str]
    preprocess: dict[str, Any]
    workers: int
    clips: int = 0
    excluded: int = 0
    prepared: int = 0
    skipped: int = 0
    computed: int = 0
    reused: int = 0
    rebuilt: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    dataset_issues: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people: ``N prepared, M skipped`` and what was computed."""
        line = (f"{self.prepared} prepared, {self.skipped} skipped ({self.computed} images computed, "
                f"{self.reused} reused, {self.rebuilt} rebuilt; {self.excluded} clips outside the class set) "
                f"in {self.seconds:.1f} s")
        return ("interrupted: " + line) if self.interrupted else line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


@dataclass
class _Plan:
    jobs: list[Job]
    keys: dict[tuple[int, str], str]  # (position, modality) -> entry key
    done: dict[int, set[str]]  # position -> modalities already valid in the cache
    failures: dict[int, str]
    rebuilt: int


def _check_options(modalities: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None) -> None:
    extra = sorted(set(options or {}) - set(modalities))
    if extra:
        raise MestiError("options", f"options given for modalities not requested: {', '.join(extra)}")


def _fingerprints(records: Sequence[ClipRecord], check: str) -> list[str | MestiError]:
    """Frame digests of every record, in threads (stat calls and file reads wait on disk)."""

    def one(record: ClipRecord) -> str | MestiError:
        try:
            return frames_fingerprint(record, check)
        except MestiError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, records))


def _plan(
    labelled: Sequence[ClipRecord],
    modalities: Sequence[str],
    encoders: Mapping[str, dict[str, Any]],
    out: Path,
    config: PreprocessConfig,
    verify_frames: str,
    class_names: Sequence[str],
) -> _Plan:
    preprocess = config.fingerprint()
    plan = _Plan([], {}, {}, {}, 0)
    pipelines = {m: encoding_pipeline(m, encoders[m]["options"], config) for m in modalities}
    for pos, (record, fp) in enumerate(zip(labelled, _fingerprints(labelled, verify_frames), strict=True)):
        if record.label not in class_names:  # an adapter bug, but one clip's problem
            plan.failures[pos] = f"{record.key}: label {record.label!r} is not one of the classes {list(class_names)}"
            continue
        if isinstance(fp, MestiError):
            plan.failures[pos] = str(fp)
            continue
        plan.done[pos] = set()
        targets: list[Target] = []
        for m in modalities:
            key = entry_key(record, fp, preprocess, encoders[m])
            plan.keys[pos, m] = key
            path = entry_path(out, m, key)
            shape = pipelines[m].image_shape
            if path.exists():
                if entry_ok(path, shape):
                    plan.done[pos].add(m)
                    continue
                path.unlink(missing_ok=True)
                plan.rebuilt += 1
            targets.append(Target(pipelines[m], path))
        if targets:
            plan.jobs.append(Job(pos, record, targets[0].pipeline, tuple(targets)))
    return plan


def _run_serial(jobs: Sequence[Job]) -> Iterable[Outcome]:
    for job in jobs:
        yield run_job(job)


def _stale_temporaries(out: Path, modalities: Sequence[str]) -> None:
    """Remove the temporary files of images a killed run was writing (``kill -9`` leaves them);
    only called under the cache's lock, so no other writer owns them."""
    for m in modalities:
        folder = out / m
        if folder.is_dir():
            for tmp in folder.glob(".*.npy.*.tmp"):
                tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit an ignored SIGINT, so Ctrl-C reaches only this one.

    The parent then stops the pool itself (:func:`_stop_now`) instead of every worker
    printing its own traceback, possibly mid-import.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_now(pool: ProcessPoolExecutor, unfinished: Iterable[Job]) -> None:
    """End the workers at once and remove the temporary files of the images they were writing.

    Finished images are complete files under their final names (atomic writes), so stopping
    mid-clip loses only that clip's work; the next run recomputes it.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=10)
    for job in unfinished:
        for target in job.targets:
            for tmp in target.path.parent.glob(f".{target.path.name}.*.tmp"):
                tmp.unlink(missing_ok=True)


def _run_pool(jobs: Sequence[Job], workers: int) -> Iterable[Outcome]:
    """Run jobs in ``spawn``-started processes (safe with torch and OpenMP in the parent)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                             initargs=(os.getpid(),)) as pool:
        with _children_ignore_sigint():  # workers start on the first submits
            futures: dict[Future[Outcome], Job] = {pool.submit(run_job, job): job for job in jobs}
        try:
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    yield fut.result()
                except BrokenProcessPool as exc:
                    died = f"{job.record.key}: a worker process died ({exc}); re-run to retry"
                    yield Outcome(job.position, job.record.key, (), died)
        except BaseException:  # Ctrl-C, or the caller stopped reading
            _stop_now(pool, [job for fut, job in futures.items() if not fut.done()])
            raise


@output_scope()
def prepare(
    adapter: DatasetAdapter,
    modalities: Sequence[str],
    out: str | os.PathLike[str],
    *,
    config: PreprocessConfig | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int | None = None,
    verify_frames: str = "stat",
    hooks: Hooks | None = None,
    option: str = "--out",
) -> PrepareReport:
    """Compute ``modalities`` for every labelled clip of ``adapter`` into the cache ``out``.

    ``config`` sets face preprocessing and the image size (``config.size``); ``options``
    maps a modality name to its encoder options (e.g. ``{"mesti": {"scale": "symmetric"}}``);
    ``workers`` <= 1 runs in this process. ``verify_frames`` is ``stat`` (names, sizes,
    modification times) or ``content`` (hash every frame file). Re-running with the same
    arguments computes nothing; Ctrl-C (or a kill) keeps every finished image and the next run
    resumes. ``option`` names the cache folder's option in messages. The cache is locked while
    this runs; another process preparing into it is waited for (said once on ``hooks``, as the stage ``prepare wait``).
    """
    start = time.perf_counter()
    config = config or PreprocessConfig()
    modalities = list(dict.fromkeys(modalities))
    if not modalities:
        raise MestiError("--modalities", "name at least one modality")
    _check_options(modalities, options)
    encoders = {m: encoder_fingerprint(m, (options or {}).get(m)) for m in modalities}
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise MestiError("--workers", f"must be at least 1 (1: in this process), got {workers}")

    hooks = or_none(hooks)
    waited = []

    def waiting(holder: str) -> None:
        hooks.stage_started("prepare wait", None, f"waiting for another mesti process (pid {holder}) preparing into {out}")
        waited.append(holder)

    out = prepare_output_dir(out, "cache", option=option, wait=waiting)
    if waited:
        hooks.stage_ended("prepare wait")
    make_folder(out)

    records = adapter.records()
    labelled = [r for r in records if r.label is not None]
    class_names = list(adapter.class_names)
    report = PrepareReport(
        dataset=getattr(adapter, "name", type(adapter).__name__), out=str(out), modalities=modalities,
        preprocess=config.effective(), workers=workers, clips=len(labelled), excluded=len(records) - len(labelled),
        dataset_issues=list(getattr(adapter, "issues", []) or []),
    )
    if not (out / REPORT_NAME).is_file():  # the mark first: a first run killed now leaves a cache
        report.interrupted = True
        write_json(out / REPORT_NAME, report.to_dict())
    _stale_temporaries(out, modalities)
    plan = _plan(labelled, modalities, encoders, out, config, verify_frames, class_names)
    report.rebuilt = plan.rebuilt
    report.reused = sum(len(v) for v in plan.done.values())

    finished = False
    try:
        _execute(plan, workers, report, hooks)
        finished = True
    finally:
        report.interrupted = not finished  # Ctrl-C, or an error outside any one clip
        _finish(plan, labelled, modalities, class_names, encoders, config, verify_frames, out, report, start)
    return report


def _execute(plan: _Plan, workers: int, report: PrepareReport, hooks: Hooks) -> None:
    if plan.jobs:
        hooks.stage_started("prepare", len(plan.jobs), "preparing")
    finished = 0
    runner = _run_serial(plan.jobs) if workers <= 1 or len(plan.jobs) <= 1 else _run_pool(plan.jobs, workers)
    for outcome in runner:
        plan.done[outcome.position].update(outcome.written)
        report.computed += len(outcome.written)
        if outcome.error is not None:
            plan.failures[outcome.position] = outcome.error
            if outcome.detail:
                report.notes.append({"key": outcome.key, "note": outcome.detail})
        report.notes.extend({"key": outcome.key, "note": n} for n in outcome.notes)
        finished += 1
        hooks.stage_advanced("prepare", finished, len(plan.jobs))


def _finish(
    plan: _Plan,
    labelled: Sequence[ClipRecord],
    modalities: Sequence[str],
    class_names: Sequence[str],
    encoders: Mapping[str, dict[str, Any]],
    config: PreprocessConfig,
    verify_frames: str,
    out: Path,
    report: PrepareReport,
    start: float,
) -> None:
    """Write every index and the report, also after an interruption."""
    ready = [pos for pos in range(len(labelled)) if pos not in plan.failures and plan.done.get(pos, set()) >= set(modalities)]
    report.prepared = len(ready)
    report.skipped = len(plan.failures)
    report.failures = [{"key": labelled[pos].key, "error": err} for pos, err in sorted(plan.failures.items())]
    for m in modalities:
        entries = []
        for pos in ready:
            r = labelled[pos]
            entries.append(IndexEntry(r.key, f"{plan.keys[pos, m]}.npy", str(r.label), r.subject, r.dataset, r.clip_id))
        settings = {"cache_format": CACHE_FORMAT, "preprocess": config.effective(), "encoder": jsonable(encoders[m]),
                    "verify_frames": verify_frames, "dataset": report.dataset}
        write_index(out, m, entries, class_names, settings, complete=not report.interrupted)
    report.seconds = round(time.perf_counter() - start, 3)
    write_json(out / REPORT_NAME, report.to_dict())
