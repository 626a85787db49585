"""``mesti analyze``: spot the expressions of a video, classify each, write an HTML report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from mesti.cli.common import (ALLOW_PARTIAL, ConsoleHooks, console, err_console, handles_errors, load_predictor,
                              progress_until_error)
from mesti.cli.spot import METHOD_HELP
from mesti.utils.outputs import prepare_new_dir


def analyze_cmd(
    video: str = typer.Argument(..., help="A video file or a folder of frames."),
    model: Path = typer.Option(..., "--model", help="A bundle (`mesti train`), a fold checkpoint, or a run directory "
                                                    "with saved checkpoints (a fold ensemble)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for intervals.csv, intervals.json, timeline.png, report.html "
                                                      "and megc/<video>.csv (the MEGC per-video format)."),
    method: str = typer.Option("flow", "--method", "-m", help=METHOD_HELP),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate (required for a folder of frames; overrides a file's)."),
    truth: Path | None = typer.Option(None, "--truth", help="Ground truth (a SAMM long-video .xlsx sheet or an interval CSV "
                                                            "with a label column): adds spot-then-recognise scores (STRS)."),
    spot_model: Path | None = typer.Option(None, "--spot-model", help="For --method learned: a model saved by `mesti spot-eval`."),
    face_index: int | None = typer.Option(None, "--face-index", min=0, help="With several faces in view: the one to spot, "
                                          "counted from the left from 0 (default: the largest at the start)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier analysis in --out."),
    allow_partial: bool = ALLOW_PARTIAL,
) -> None:
    """Find micro- and macro-expressions in a video and classify each: intervals, a timeline and one self-contained report.html."""
    from mesti.analysis import analyze
    from mesti.analysis.truth import check_truth_file
    from mesti.clips.stream import open_stream
    from mesti.errors import MestiError

    if method == "learned" and spot_model is None:
        raise MestiError("--spot-model", "the learned method needs a spotting model: run mesti spot-eval --method learned first")
    if truth is not None:
        check_truth_file(truth)  # before the spotting, not after it
    prepare_new_dir(out, "analysis", overwrite=overwrite)
    predictor = load_predictor(model, allow_partial)
    stream = open_stream(video, fps)
    with progress_until_error() as bar:
        hooks = ConsoleHooks(bar, {"spot": (f"spot {method} {Path(video).name}", stream.count),
                                   "classify": "classify intervals"})
        options: dict[str, object] = {"model": spot_model} if spot_model is not None else {}
        if face_index is not None:
            options["face_index"] = face_index
        analysis = analyze(video, predictor, method=method, fps=fps, truth=truth, spotter_options=options or None,
                           hooks=hooks)
        if not analysis.intervals:
            hooks.stage_advanced("classify", 0, 0)
    for line in analysis.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(line)}", markup=True, highlight=False, soft_wrap=True)
    analysis.write(out, overwrite=overwrite)
    counts: dict[str, int] = {}
    for iv in analysis.intervals:
        counts[iv.label or ""] = counts.get(iv.label or "", 0) + 1
    seconds = analysis.spot.frames / analysis.fps
    what = ", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "nothing spotted"
    console.print(f"{len(analysis.intervals)} interval(s) in {seconds:.1f} s of video ({what}); {analysis.model}")
    if analysis.scores is not None:
        s = analysis.scores
        console.print(f"truth: spotting F1 {s.spot_f1:.3f} (TP {s.spot_tp}, FP {s.spot_fp}, FN {s.spot_fn}), "
                      f"recognition F1 {s.recognition_f1:.3f}, STRS {s.strs:.3f}")
    console.print(f"report: {out / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(handles_errors(analyze_cmd))
