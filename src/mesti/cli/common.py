"""What every command shares: the console, one-line errors with exit code 2, progress bars."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import shlex
import sys
import time
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mesti.errors import DISK_FULL, MestiError, from_os_error
from mesti.utils.hooks import Hooks
from mesti.utils.outputs import output_scope
from mesti.utils.registry import Registry
from mesti.reports.report import skip_line

# Markup off by default: what is printed holds users' labels, names and paths ("[/]" is a
# valid class name), so a print shows them as they are; our own styling asks for markup=True
# and escapes what it interpolates.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

F = TypeVar("F", bound=Callable[..., Any])


def command_line() -> str:
    """The command as typed, recorded in a run's config.yaml and report."""
    return "mesti " + " ".join(shlex.quote(a) for a in sys.argv[1:])


O = TypeVar("O")


def options_command(options: type[O], body: Callable[[O], None]) -> Callable[..., None]:
    """A Typer command whose parameters are the fields of the dataclass ``options`` (each
    field's default a ``typer.Option`` or ``typer.Argument``, in the order shown); ``body``
    receives them as one ``options`` object. Its help is ``body``'s docstring."""
    hints = typing.get_type_hints(options)
    params = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name], default=f.default)
              for f in dataclasses.fields(options)]  # type: ignore[arg-type]

    def run(**values: Any) -> None:
        body(options(**values))

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__doc__, run.__name__ = body.__doc__, body.__name__.strip("_") + "_cmd"
    return run


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on one line to stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handles_errors(fn: F) -> F:
    """Turn :class:`MestiError` (bad input) into a one-line message and exit code 2; an
    operating-system error about a path (a full disk, a name too long, a folder that cannot be
    made) is the user's environment, not a bug, and is said the same way. The output folders
    the command locked are given back when it ends."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with output_scope():
                return fn(*args, **kwargs)
        except MestiError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except OSError as exc:
            if exc.filename is None and exc.errno not in DISK_FULL:
                raise  # not about a path: a bug to see whole
            error = from_os_error(exc)
            raise fail(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted; finished outputs are kept, re-run the same command to resume", 130) from None

    return wrapper  # type: ignore[return-value]


#: ``--allow-partial`` wherever a run directory is taken as a fold ensemble.
ALLOW_PARTIAL = typer.Option(False, "--allow-partial", help="Take a run directory that is unfinished or lacks a "
                             "fold's checkpoint as the mean of the fold models it has (refused by default: that is "
                             "not the run's model).")


def load_predictor(path: Path, allow_partial: bool = False) -> Any:
    """:func:`mesti.bundle.predictor.load_model`, saying on stderr when a fold ensemble is
    incomplete (taken with ``--allow-partial``)."""
    from mesti.bundle.predictor import load_model

    model = load_model(path, allow_partial=allow_partial)
    if getattr(model, "incomplete", ""):
        err_console.print(f"[yellow]warning:[/] {escape(str(path))}: {escape(model.incomplete)}; predicting with the "
                          f"mean of the {len(model.members)} fold models there are (--allow-partial)",
                          markup=True, highlight=False, soft_wrap=True)
    return model


#: ``--manifest`` wherever a sheet is read: a manifest is the folder adapters' sheet.
MANIFEST_HELP = "CSV manifest for --dataset folder/images (the same as --sheet)."


def sheet_or_manifest(sheet: Path | None, manifest: Path | None) -> Path | None:
    """The one annotation file given as ``--sheet`` or ``--manifest`` (not both)."""
    if sheet is not None and manifest is not None:
        raise MestiError("--manifest", "give either --sheet or --manifest, not both")
    return sheet if sheet is not None else manifest


#: Skipped clips named on screen; the run's report and config list every one.
SHOWN_SKIPS = 5


def show_skipped(failures: Sequence[Mapping[str, str]], strict: bool = False) -> None:
    """Say on stderr how many clips were left out and which (the first few), or with
    ``strict`` refuse to go on: a silently smaller dataset gives a number that looks whole."""
    if not failures:
        return
    if strict:
        raise MestiError(failures[0]["key"], f"{len(failures)} clip(s) could not be prepared (--strict); "
                         f"first: {failures[0]['error']}")
    err_console.print(f"[yellow]warning:[/] {len(failures)} clip(s) skipped, they could not be prepared "
                      "(--strict makes this an error):", markup=True, highlight=False, soft_wrap=True)
    for failure in failures[:SHOWN_SKIPS]:
        err_console.print(f"  skipped {skip_line(failure)}", highlight=False, soft_wrap=True)
    if len(failures) > SHOWN_SKIPS:
        err_console.print(f"  ... and {len(failures) - SHOWN_SKIPS} more (listed in the report)", highlight=False)


class LineProgress(Progress):
    """Progress as plain lines, for output that goes to a file or a pipe.

    Rich draws its bar only on a terminal; redirected, a long command would print nothing
    for minutes. This keeps rich's task bookkeeping (the same API for every caller) and
    writes ``description done/total (elapsed)`` when a task starts, finishes or changes
    description, and otherwise at most once per ``interval`` seconds per task.
    """

    def __init__(self, console: Console, interval: float = 10.0) -> None:
        super().__init__(console=console, disable=True)
        self.interval = interval
        self._said: dict[TaskID, tuple[str, float]] = {}

    def _say(self, task_id: TaskID) -> None:
        task = self._tasks.get(task_id)
        if task is None or not task.visible:
            return
        now = time.monotonic()
        description, last = self._said.get(task_id, ("", -float("inf")))
        finished = task.total is not None and task.completed >= task.total
        if task.description == description and now - last < self.interval and not finished:
            return
        if finished and description == task.description and last == float("inf"):
            return  # already said it finished
        count = f"{task.completed:g}/{task.total:g}" if task.total is not None else f"{task.completed:g}"
        elapsed = f" ({task.elapsed:.0f} s)" if task.elapsed else ""
        self.console.print(f"{task.description} {count}{elapsed}", markup=False, highlight=False, soft_wrap=True)
        self._said[task_id] = (task.description, float("inf") if finished else now)

    def add_task(self, *args: Any, **kwargs: Any) -> TaskID:
        task_id = super().add_task(*args, **kwargs)
        self._say(task_id)
        return task_id

    def update(self, task_id: TaskID, *args: Any, **kwargs: Any) -> None:
        super().update(task_id, *args, **kwargs)
        self._say(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._say(task_id)

    def reset(self, task_id: TaskID, *args: Any, **kwargs: Any) -> None:
        super().reset(task_id, *args, **kwargs)
        self._said.pop(task_id, None)


def progress() -> Progress:
    """A rich progress bar with count, elapsed time and ETA on a terminal; plain lines otherwise."""
    if not err_console.is_terminal:
        return LineProgress(err_console)
    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


class ConsoleHooks(Hooks):
    """The library's progress events on a command's bar (:func:`progress`): one line per stage.

    ``lines`` declares lines up front, in the order they show (stage -> description, as
    ``(description, total)`` to give a total); a stage not declared gets a line when it first
    reports, described by its own description or ``names[stage]`` or its name. Folds and
    epochs are shown on the lines ``folds`` and ``epochs`` when they are declared (a new fold
    starts the epochs line again). ``start_on_first``: the bar appears with the first event,
    so an argument error prints alone.
    """

    def __init__(self, bar: Progress, lines: Mapping[str, str | tuple[str, float | None]] | None = None, *,
                 names: Mapping[str, str] | None = None, start_on_first: bool = False) -> None:
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}
        self.totals: dict[str, float | None] = {}
        self.names = dict(names or {})
        self.waiting = start_on_first
        for stage, line in (lines or {}).items():
            description, total = (line, None) if isinstance(line, str) else line
            self.line(stage, description, total)

    def line(self, stage: str, description: str, total: float | None = None, done: float = 0) -> TaskID:
        """Declare the line of ``stage`` now (before any event of it)."""
        self.tasks[stage] = self.bar.add_task(description, total=total, completed=done)
        self.totals[stage] = total
        return self.tasks[stage]

    def _new(self, stage: str, description: str | None, total: float | None, done: float = 0) -> bool:
        """A line for ``stage`` if it has none yet (True when this made it)."""
        if self.waiting:
            self.waiting = False
            self.bar.start()
        if stage in self.tasks:
            return False
        self.line(stage, description or self.names.get(stage, stage), total, done)
        return True

    def stage_started(self, stage: str, total: int | None = None, description: str | None = None) -> None:
        if not self._new(stage, description, total):
            self.bar.update(self.tasks[stage], total=total, **({"description": description} if description else {}))

    def stage_advanced(self, stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        if self._new(stage, description, None if total is None else max(total, done), done):
            return
        given: dict[str, Any] = {"description": description} if description else {}
        if total is not None:
            given["total"] = max(total, done)
        self.bar.update(self.tasks[stage], completed=done, **given)

    def stage_ended(self, stage: str) -> None:
        task = self.tasks.pop(stage, None)
        if task is not None:
            self.bar.remove_task(task)

    def fold_started(self, fold: str, index: int, total: int) -> None:
        if "folds" in self.tasks:
            self.bar.update(self.tasks["folds"], total=total, completed=index, description=f"fold {fold}")
        if "epochs" in self.tasks:
            self.bar.reset(self.tasks["epochs"], total=self.totals["epochs"])

    def epoch_ended(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None:
        if "epochs" in self.tasks:
            self.bar.update(self.tasks["epochs"], completed=epoch, total=total,
                            description=f"epoch {epoch}/{total} loss {metrics['train_loss']:.3f}")

    def finish(self, stage: str) -> None:
        """Show ``stage`` complete (its total, or one of one when it had none)."""
        task = self.tasks.get(stage)
        if task is not None:
            total = next(t.total for t in self.bar.tasks if t.id == task) or 1
            self.bar.update(task, completed=total, total=total)


@contextlib.contextmanager
def progress_until_error() -> Iterator[Progress]:
    """A progress bar that vanishes when the command fails, so the error stays one line."""
    bar = progress()
    bar.start()
    try:
        yield bar
    except BaseException:
        bar.live.transient = True
        raise
    finally:
        bar.stop()


def print_registry(registry: Registry[Any], title: str, what: str) -> None:
    """One table of a registry's names and their one-line descriptions (``mesti data list``,
    ``mesti spot list``)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("name", style="bold")
    table.add_column(what)
    for name in registry.list():
        table.add_row(name, registry.describe(name))
    console.print(table)
