"""Hooks: the one way a long run tells its caller how far it is.

A library function that works for long takes ``hooks: Hooks | None`` and calls named events
on it; each event does nothing by default, so a caller overrides only what it shows (the
command line's console is one such hook, in ``mesti.cli``; a test records them). Hooks only
watch: nothing a hook does changes what is computed. The shape follows detectron2's
``HookBase`` and Lightning's callbacks: a base class of no-op events, combined in a list.

Stages are named pieces of work counted in items (``"prepare"`` clips, ``"spot"`` frames,
``"classify"`` intervals, ``"cells"`` of a grid, ``"synth"`` clips and ``"synth long"`` frames,
``"check"`` files, ``"difficulty"`` clips, ``"prepare wait"`` for another process's lock);
training reports folds and epochs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


class Hooks:
    """Events of a long run; every one does nothing here. Subclass and override what you need."""

    def stage_started(self, stage: str, total: int | None = None, description: str | None = None) -> None:
        """``stage`` begins, ``total`` items long when known."""

    def stage_advanced(self, stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        """``done`` of ``total`` items of ``stage`` are finished (a first call also starts it);
        ``description`` says what it is doing now, when that changes."""

    def stage_ended(self, stage: str) -> None:
        """``stage`` is over and need not be shown any more (a wait that ended)."""

    def fold_started(self, fold: str, index: int, total: int) -> None:
        """Fold ``fold`` (``index`` of ``total``, from 0) starts, or is skipped as already recorded."""

    def epoch_ended(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None:
        """Epoch ``epoch`` of ``total`` (from 1) ended; ``metrics`` has at least ``train_loss``."""


#: Hooks that watch nothing: what a function uses when it is given none.
NO_HOOKS = Hooks()


def or_none(hooks: Hooks | None) -> Hooks:
    """``hooks``, or :data:`NO_HOOKS` for ``None``, so callers need no checks."""
    return NO_HOOKS if hooks is None else hooks


class HookList(Hooks):
    """Several hooks as one: each event goes to every hook, in order."""

    def __init__(self, hooks: Sequence[Hooks]) -> None:
        self.hooks = list(hooks)

    def stage_started(self, stage: str, total: int | None = None, description: str | None = None) -> None:
        for h in self.hooks:
            h.stage_started(stage, total, description)

    def stage_advanced(self, stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        for h in self.hooks:
            h.stage_advanced(stage, done, total, description)

    def stage_ended(self, stage: str) -> None:
        for h in self.hooks:
            h.stage_ended(stage)

    def fold_started(self, fold: str, index: int, total: int) -> None:
        for h in self.hooks:
            h.fold_started(fold, index, total)

    def epoch_ended(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None:
        for h in self.hooks:
            h.epoch_ended(epoch, total, metrics)


class Functions(Hooks):
    """Hooks from plain functions, by event name: ``Functions(epoch_ended=lambda e, n, m: print(e))``.
    Each function is called as the event is, so it takes the event's optional arguments with
    their defaults too (``stage_advanced(stage, done, total=None, description=None)``)."""

    def __init__(self, **events: Callable[..., None]) -> None:
        for name, fn in events.items():
            if name.startswith("_") or not callable(getattr(Hooks, name, None)):
                raise TypeError(f"{name!r} is not a hook event")
            setattr(self, name, fn)


def combine(*hooks: Hooks | None) -> Hooks:
    """One hook for all of ``hooks`` (``None`` left out)."""
    given = [h for h in hooks if h is not None]
    return given[0] if len(given) == 1 else HookList(given)


class Recorder(Hooks):
    """Every event as a tuple ``(name, *arguments)``, in order: for tests and scripts."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def stage_started(self, stage: str, total: int | None = None, description: str | None = None) -> None:
        self.events.append(("stage_started", stage, total, description))

    def stage_advanced(self, stage: str, done: int, total: int | None = None, description: str | None = None) -> None:
        self.events.append(("stage_advanced", stage, done, total, description))

    def stage_ended(self, stage: str) -> None:
        self.events.append(("stage_ended", stage))

    def fold_started(self, fold: str, index: int, total: int) -> None:
        self.events.append(("fold_started", fold, index, total))

    def epoch_ended(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None:
        self.events.append(("epoch_ended", epoch, total, dict(metrics)))

    def named(self, name: str) -> list[tuple[object, ...]]:
        """The events called ``name``, without the name."""
        return [e[1:] for e in self.events if e[0] == name]
