"""``mesti spot``: spot expressions in a long video; ``mesti spot-eval``: the MEGC evaluation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from mesti.cli.common import (ALLOW_PARTIAL, ConsoleHooks, console, err_console, handles_errors, load_predictor,
                              print_registry, progress_until_error)
from mesti.errors import MestiError
from mesti.utils.outputs import prepare_new_dir

METHOD_HELP = "Spotting method (`mesti spot list`): flow, lbp, naive, learned."


def _list() -> None:
    from mesti.spotting.registry import SPOTTERS

    print_registry(SPOTTERS, "spotting methods", "what it does")


def spot_cmd(
    video: str = typer.Argument(..., help="A video file or a folder of frames; or `list` to list the methods."),
    method: str = typer.Option("flow", "--method", "-m", help=METHOD_HELP),
    out: Path = typer.Option(Path("spot_out"), "--out", "-o", help="Folder for intervals.csv, intervals.json, score.png "
                                                                   "and megc/<video>.csv (the MEGC per-video format)."),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate (required for a folder of frames; overrides a file's)."),
    model: Path | None = typer.Option(None, "--model", help="For --method learned: a model saved by `mesti spot-eval`."),
    face_index: int | None = typer.Option(None, "--face-index", min=0, help="With several faces in view: the one to track, "
                                          "counted from the left from 0 (default: the largest at the start)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the files of an earlier run in --out."),
) -> None:
    """Find micro- and macro-expressions in a long video: intervals in frames and seconds, and a score plot."""
    from mesti.clips.stream import open_stream
    from mesti.spotting import create_spotter
    from mesti.spotting.output import write_result
    from mesti.spotting.registry import spot_stream, too_short
    from mesti.utils.atomic import atomic_dir

    if video == "list" and not Path(video).exists():
        _list()
        return
    if model is not None and method != "learned":
        raise MestiError("--model", f"is the learned method's spotting model (from mesti spot-eval); --method {method} "
                                    "takes none")
    stream = open_stream(video, fps)
    options: dict[str, object] = {"model": model} if model is not None else {}
    if face_index is not None:
        if method not in ("flow", "learned"):
            raise MestiError("--face-index", f"the {method} method does not track faces one by one; use flow or learned")
        options["face_index"] = face_index
    spotter = create_spotter(method, **options)
    if method == "learned" and model is None:
        raise MestiError("--model", "the learned method needs a trained model: run mesti spot-eval --method learned first")
    short = too_short(spotter, stream)
    if short is not None:
        raise MestiError(video, short)
    prepare_new_dir(out, "spotting result", overwrite=overwrite)
    with progress_until_error() as bar:
        hooks = ConsoleHooks(bar, {"spot": (f"spot {method} {Path(video).name}", stream.count)})
        result = spot_stream(spotter, stream, hooks=hooks)
    for line in result.warnings():
        err_console.print(f"[yellow]warning:[/] {escape(line)}", markup=True, highlight=False, soft_wrap=True)
    with atomic_dir(out, "spotting result") as tmp:
        write_result(result, tmp)
    micro = sum(i.kind == "micro" for i in result.intervals)
    console.print(f"{len(result.intervals)} interval(s) ({micro} micro, {len(result.intervals) - micro} macro) in "
                  f"{result.frames} frames ({result.frames / result.fps:.1f} s at {result.fps:g} fps) -> {out}/")


def spot_eval_cmd(
    dataset: str = typer.Option(..., "--dataset", "-d", help="A long-video adapter: samm-long, casme-sq, casme3, long-manifest."),
    root: Path = typer.Option(..., "--root", help="The dataset folder."),
    opt: list[str] = typer.Option([], "--opt", help="Adapter option KEY=VALUE (e.g. fps=30 for a synthetic 30 fps set)."),
    method: str | None = typer.Option(None, "--method", "-m", help=METHOD_HELP + " (learned runs leave-one-subject-out)."),
    predictions: Path | None = typer.Option(None, "--predictions", help="Evaluate these intervals instead of running a "
                                            "method: a CSV as `mesti spot` writes, or a folder of MEGC per-video CSVs "
                                            "(<video>.csv: onset, offset, type, class)."),
    out: Path = typer.Option(Path("spot_eval"), "--out", "-o", help="Folder for summary.json, per_video.csv, predictions.csv, "
                                                                    "megc/, plots."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier evaluation in --out."),
    recognise: Path | None = typer.Option(None, "--recognise", help="Also classify each spotted interval with this model "
                                          "(bundle, fold checkpoint or run directory) and score spot-then-recognise (STRS)."),
    allow_partial: bool = ALLOW_PARTIAL,
) -> None:
    """MEGC spotting evaluation: IoU >= 0.5, one to one, P/R/F1 pooled for micro, macro and overall;
    with --recognise, the MEGC 2023-2025 spot-then-recognise score too."""
    from mesti.cli.data import parse_options
    from mesti.datasets.registry import create_dataset
    from mesti.spotting.run import evaluate_dataset

    if (method is None) == (predictions is None):
        raise MestiError("--method", "give exactly one of --method NAME or --predictions CSV")
    if recognise is not None and method is None:
        raise MestiError("--recognise", "recognition needs spotted intervals: give --method, not --predictions")
    if not root.is_dir():
        raise MestiError("--root", f"{root}: no such folder")
    recogniser = None
    if recognise is not None:
        from mesti.analysis.dataset import recognise_spotted
        model = load_predictor(recognise, allow_partial)
    adapter = create_dataset(dataset, root, **parse_options(opt))
    if not hasattr(adapter, "videos"):
        raise MestiError("--dataset", f"{dataset} is not a long-video dataset (use samm-long, casme-sq, casme3 or long-manifest)")
    if predictions is not None and not predictions.exists():
        raise MestiError("--predictions", f"{predictions}: no such file or folder")
    adapter.videos()  # a video listed twice, or two of one name, is refused before anything is written
    prepare_new_dir(out, "spotting evaluation", overwrite=overwrite)
    for line in adapter.issues:
        err_console.print(f"[yellow]note:[/] {escape(line)}", markup=True, highlight=False, soft_wrap=True)
    with progress_until_error() as bar:
        hooks = ConsoleHooks(bar, {"spot": f"spot-eval {method or predictions}"})
        if recognise is not None:
            hooks.line("classify", "classify spotted intervals")

            def recogniser(videos, results):  # type: ignore[no-untyped-def]
                return recognise_spotted(model, videos, results, hooks=hooks)

        report = evaluate_dataset(adapter, out, method=method, predictions=predictions, hooks=hooks,
                                  recognise=recogniser)
    for line in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(line)}", markup=True, highlight=False, soft_wrap=True)
    table = Table(title=f"{report.protocol}")
    for col in ("", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(col, justify="right")
    for kind, row in report.table.items():
        table.add_row(kind, *(str(row[k]) for k in ("tp", "fp", "fn")), *(f"{row[k]:.3f}" for k in ("precision", "recall", "f1")))
    console.print(table)
    if report.blinks is not None:
        b = report.blinks
        console.print(f"labelled blinks (negatives, not counted as truth): {b['labelled']}; taken for an expression "
                      f"by a false positive: {b['spotted_as_expression']} ({b['share']:.1%})")
    if report.recognition is not None:
        for line in report.recognition.get("notes", []):
            err_console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)
        r = report.recognition["scores"]
        console.print(f"spot-then-recognise ({report.recognition['model']}): spotting F1 {r['spot_f1']:.3f}, recognition F1 "
                      f"{r['recognition_f1']:.3f} on {r['spot_tp']} correctly spotted, STRS {r['strs']:.3f}")
    console.print(f"per-video counts and predictions -> {out}/")


def register(app: typer.Typer) -> None:
    app.command("spot")(handles_errors(spot_cmd))
    app.command("spot-eval")(handles_errors(spot_eval_cmd))


