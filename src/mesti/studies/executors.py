"""Where studies run: ``local`` (one after another in this process) or ``ray`` (Ray tasks).

An executor takes cells (a label, a :class:`~mesti.studies.spec.StudySpec` and its run
directory) and runs each through one cell function, by default :func:`run_cell`. Each cell
records its folds in its own run directory as a local run does, so resume, ``metrics.json``
and the reports do not depend on where it ran. A cell that fails is reported as failed and
the others go on.

With Ray every cell is a task that declares its resources (``num_cpus``, ``num_gpus``) and
is retried by Ray when its worker dies (``max_retries``); a retried cell resumes from the
folds its first attempt recorded. Inputs are prepared into the shared modality cache by the
driver first, so tasks only read them (the cache folder must be visible to every node).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from mesti.errors import MestiError
from mesti.engine.samples import Inputs
from mesti.studies.inputs import load_samples
from mesti.studies.spec import StudySpec, run_study
from mesti.utils.hooks import Hooks, or_none
from mesti.utils.schema import check_fields

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorSpec:
    """``address``: a Ray cluster (``auto``, ``HOST:PORT``, ``ray://HOST:10001``); none
    starts a Ray instance on this machine. ``num_gpus`` per task: none means one when the
    training device is CUDA (or ``auto`` on a cluster with GPUs), else none."""

    name: str = "local"
    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float | None = None
    max_retries: int = 3
    fold_tasks: int | None = None  # one study (loso/holdout) split into this many Ray tasks of folds

    def __post_init__(self) -> None:
        check_fields(self, "executor")
        if self.fold_tasks is not None and self.fold_tasks < 1:
            raise MestiError("--fold-tasks", f"{self.fold_tasks} must be at least 1")
        if self.name not in EXECUTORS:
            raise MestiError("--executor", f"unknown executor {self.name!r}; choose one of {', '.join(EXECUTORS)}")
        finite = math.isfinite(self.num_cpus) and (self.num_gpus is None or math.isfinite(self.num_gpus))
        if not finite or self.num_cpus <= 0 or (self.num_gpus is not None and self.num_gpus < 0) or self.max_retries < 0:
            raise MestiError("executor", "num_cpus must be a positive number, num_gpus a number from 0, "
                                         "max_retries at least 0")
        if self.address is not None and self.name != "ray":
            raise MestiError("--address", f"{self.address} names a Ray cluster, and the executor is {self.name}: "
                                          "add --executor ray, or leave --address out")

    @classmethod
    def from_config(cls, value: str | Mapping[str, Any] | None) -> ExecutorSpec:
        """A grid file's ``executor:`` (a name or a mapping) or the ``--executor`` option."""
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(name=value)
        if not isinstance(value, Mapping):
            raise MestiError("executor", f"{value!r} must be a name (local, ray) or a mapping with 'name'")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise MestiError("executor", f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**value)


@dataclass(frozen=True)
class Cell:
    label: str
    spec: StudySpec
    run_dir: Path


@dataclass(frozen=True)
class Outcome:
    """A cell's metrics, or why it failed."""

    cell: Cell
    metrics: dict[str, Any] | None
    error: str | None = None


def run_cell(spec: StudySpec, run_dir: Path, command: str = "", **kwargs: Any) -> dict[str, Any]:
    """One cell: the study, resumed in its run directory, on its inputs (given, or read from
    the modality cache the driver filled). Ray runs this on a worker."""
    inputs = kwargs.pop("inputs", None)
    return run_study(spec, run_dir, inputs if inputs is not None else load_samples(spec), command=command, **kwargs)


CellFn = Callable[..., dict[str, Any]]


def run_cells(cells: Sequence[Cell], executor: ExecutorSpec, *, command: str = "", cell_fn: CellFn = run_cell,
              hooks: Hooks | None = None) -> list[Outcome]:
    """Run every cell on ``executor``; outcomes in the order of ``cells``. ``hooks`` sees the
    stage ``cells``; local cells also report their folds and epochs to it (a Ray task reports
    none: the driver counts the folds its cells have recorded)."""
    if executor.name == "ray":
        return _run_ray(cells, executor, command, cell_fn, or_none(hooks))
    return _run_local(cells, command, cell_fn, or_none(hooks))


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if isinstance(exc, MestiError) or not text else f"{type(exc).__name__}: {text[-1]}")[:500]


def _run_local(cells: Sequence[Cell], command: str, cell_fn: CellFn, hooks: Hooks) -> list[Outcome]:
    outcomes = []
    loaded: dict[tuple[Any, ...], Inputs] = {}
    for i, cell in enumerate(cells):
        hooks.stage_advanced("cells", i, len(cells), cell.label)
        try:
            key = cell.spec.input_key()
            if key not in loaded:
                loaded.clear()  # one input set in memory at a time
                loaded[key] = load_samples(cell.spec)
            metrics = cell_fn(cell.spec, cell.run_dir, command, inputs=loaded[key], hooks=hooks)
            outcomes.append(Outcome(cell, metrics))
        except Exception as exc:  # one failing cell must not stop the others; it is reported
            outcomes.append(Outcome(cell, None, _message(exc)))
    hooks.stage_advanced("cells", len(cells), len(cells), "done")
    return outcomes


def check_executor(executor: ExecutorSpec) -> None:
    """Ray installed, its cluster address reachable: checked before anything is written."""
    if executor.name != "ray":
        return
    try:
        import ray
    except ImportError:
        raise MestiError("--executor ray", "Ray is not installed; install it with: pip install 'mesti[ray]'") from None
    if not ray.is_initialized() and executor.address not in (None, "auto", "local"):
        _reachable(str(executor.address))


def connect_ray(address: str | None) -> bool:
    """Connect to (or start) Ray; True when this call started it. Clear errors, no traceback."""
    check_executor(ExecutorSpec(name="ray", address=address))
    import ray

    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = f"--executor ray address {address}" if address else "--executor ray"
        raise MestiError(where, f"cannot reach or start a Ray cluster ({_message(exc)})") from None
    return True


def _reachable(address: str) -> None:
    """Ray retries an unreachable cluster for minutes; one short TCP connect fails fast instead."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=5):
            pass
    except ValueError:
        raise MestiError(f"--executor ray address {address}", "expected auto or HOST:PORT (or ray://HOST:PORT)") from None
    except OSError as exc:
        raise MestiError(f"--executor ray address {address}",
                         f"cannot reach a Ray cluster there ({exc.strerror or exc}); start one with `ray start --head`") from None


def _gather(pending: dict[Any, Any], retries: int, poll: Callable[[dict[Any, Any]], None]) -> Iterator[tuple[Any, Any, str | None]]:
    """``(key, value, error)`` as each Ray task of ``pending`` (ref -> key) ends; ``poll``
    about once a second. ``pending`` shrinks as tasks end."""
    import ray

    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in done:
            key = pending.pop(ref)
            try:
                value = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # the cell itself raised: not retried
                yield key, None, _message(getattr(exc, "cause", None) or exc)
            except ray.exceptions.RayError as exc:  # its worker died more than max_retries times
                yield key, None, f"{type(exc).__name__} after {retries} retries"
            else:
                yield key, value, None
        poll(pending)


def _gpus(executor: ExecutorSpec, spec: StudySpec) -> float:
    """GPUs per task: ``num_gpus``, or unset, one when the study trains on CUDA (``auto``
    counts as CUDA on a cluster that has GPUs)."""
    import ray

    if executor.num_gpus is not None:
        return executor.num_gpus
    device = str(spec.training.get("device", "auto"))
    return 1.0 if device.startswith("cuda") or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0) else 0.0


def check_resources(executor: ExecutorSpec, specs: Sequence[StudySpec]) -> None:
    """Refuse tasks no node of the connected cluster can run: Ray would keep them pending
    forever (``num_cpus: 64`` on a 2-core machine, ``num_gpus: 1`` where there is no GPU)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for gpus in sorted({_gpus(executor, s) for s in specs}):
        if not any(n.get("CPU", 0) >= executor.num_cpus and n.get("GPU", 0) >= gpus for n in nodes):
            have = ", ".join(f"{n.get('CPU', 0):g} CPU {n.get('GPU', 0):g} GPU" for n in nodes) or "no live node"
            raise MestiError("--executor ray", f"each task asks for {executor.num_cpus:g} CPU and {gpus:g} GPU, and no "
                             f"node of the Ray cluster has that much ({have}); lower num_cpus / num_gpus in the "
                             "executor settings (with device auto, num_gpus 0 trains on the CPU)")


def _in_task(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` on a Ray worker for the driver, which holds the locks of the folders it writes."""
    from mesti.utils.outputs import locked_by_caller

    with locked_by_caller():
        return fn(*args)


@dataclass(frozen=True)
class _Task:
    """``fn`` as a Ray task: ``.remote(*args)`` runs ``fn(*args)`` on a worker."""

    remote_fn: Any
    fn: Callable[..., Any]

    def remote(self, *args: Any) -> Any:
        return self.remote_fn.remote(self.fn, *args)


def _task(fn: Callable[..., Any], executor: ExecutorSpec, spec: StudySpec) -> _Task:
    """``fn`` as a Ray task with its resources (:func:`_gpus`)."""
    import ray

    return _Task(ray.remote(_in_task).options(num_cpus=executor.num_cpus, num_gpus=_gpus(executor, spec),
                                              max_retries=executor.max_retries, retry_exceptions=False), fn)


def _folds_recorded(run_dir: Path) -> int:
    return sum(1 for _ in run_dir.rglob("folds/*.json")) if run_dir.is_dir() else 0


def _run_ray(cells: Sequence[Cell], executor: ExecutorSpec, command: str, cell_fn: CellFn,
             hooks: Hooks) -> list[Outcome]:
    from mesti.utils.outputs import lock_output, output_scope

    started = connect_ray(executor.address)
    import ray

    try:
        with output_scope():
            check_resources(executor, [c.spec for c in cells])
            for cell in cells:  # the tasks write these folders; this process holds their locks
                lock_output(cell.run_dir)
            return _ray_cells(cells, executor, command, cell_fn, hooks)
    finally:
        if started:
            ray.shutdown()


def _ray_cells(cells: Sequence[Cell], executor: ExecutorSpec, command: str, cell_fn: CellFn,
               hooks: Hooks) -> list[Outcome]:
    failed: dict[int, str] = {}
    prepared: dict[tuple[Any, ...], str | None] = {}
    for i, cell in enumerate(cells):  # into the shared cache, once per input, before any task starts
        key = cell.spec.input_key()
        if key not in prepared:
            hooks.stage_advanced("cells", 0, len(cells), f"preparing inputs for {cell.label}")
            try:
                load_samples(cell.spec)
                prepared[key] = None
            except Exception as exc:  # its cells are reported failed; the other inputs go on
                prepared[key] = _message(exc)
        if prepared[key] is not None:
            failed[i] = str(prepared[key])
    pending = {_task(cell_fn, executor, cell.spec).remote(cell.spec, cell.run_dir, command): i
               for i, cell in enumerate(cells) if i not in failed}
    results: dict[int, Outcome] = {i: Outcome(cells[i], None, msg) for i, msg in failed.items()}

    def poll(running: dict[Any, int]) -> None:
        folds = sum(_folds_recorded(cells[i].run_dir) for i in running.values())
        hooks.stage_advanced("cells", len(results), len(cells),
                             f"{len(running)} cell(s) running, {folds} of their folds recorded")

    for i, metrics, error in _gather(pending, executor.max_retries, poll):
        results[i] = Outcome(cells[i], metrics, error)
    return [results[i] for i in range(len(cells))]


def run_fold_group(spec: StudySpec, run_dir: Path, folds: list[str], command: str = "") -> dict[str, Any]:
    """Some folds of one seed's run, recorded in its run directory. Ray runs this on a worker."""
    return run_study(spec, run_dir, load_samples(spec), command=command, only_folds=folds)


def run_in_fold_tasks(cell: Cell, executor: ExecutorSpec, *, command: str = "",
                      hooks: Hooks | None = None) -> Outcome:
    """One large study as ``executor.fold_tasks`` Ray tasks per seed, each a group of its folds
    (sequential engine); once every fold is recorded, this process pools them as a local
    run would, so the run directory is the same."""
    from mesti.studies.run import write_study_config
    from mesti.utils.outputs import lock_output, output_scope

    hooks = or_none(hooks)
    started = connect_ray(executor.address)
    import ray

    try:
        with output_scope():
            spec = cell.spec
            check_resources(executor, [spec])
            lock_output(cell.run_dir)  # the tasks write it; this process holds its lock
            hooks.stage_advanced("cells", 0, 1, "preparing inputs")
            inputs = load_samples(spec)  # fills the shared cache; the folds come from its samples
            samples = inputs.samples
            task = _task(run_fold_group, executor, spec)
            pending, total = {}, 0
            if len(spec.seeds) > 1:
                write_study_config(cell.run_dir, spec.to_dict(), command, overwrite=False)
            for seed in spec.seeds:
                one = spec.for_seed(seed)
                run_dir = cell.run_dir if len(spec.seeds) == 1 else cell.run_dir / f"seed-{seed}"
                # The run's config and marks before any task: two tasks starting together would
                # otherwise each find the other's half-made folder and refuse it as foreign.
                run_study(one, run_dir, inputs, command=command, only_folds=())
                folds = one.build_protocol(seed).folds(samples.labels.numpy(), samples.subjects, samples.datasets)
                names = [f.name for f in folds]
                size = -(-len(names) // min(executor.fold_tasks or 1, len(names)))
                for start in range(0, len(names), size):
                    pending[task.remote(one, run_dir, names[start:start + size], command)] = run_dir
                total += len(names)

            def poll(running: dict[Any, Path]) -> None:
                hooks.stage_advanced("cells", _folds_recorded(cell.run_dir), total, f"{len(running)} fold task(s) running")

            for _, _, error in _gather(pending, executor.max_retries, poll):
                if error is not None:
                    for ref in pending:
                        ray.cancel(ref)
                    return Outcome(cell, None, error)
            return Outcome(cell, run_study(spec, cell.run_dir, inputs, command=command))
    finally:
        if started:
            ray.shutdown()
