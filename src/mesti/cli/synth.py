"""``mesti synth``: write a synthetic micro-expression dataset in the CASME II layout."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import typer

from mesti.cli.common import ConsoleHooks, console, handles_errors, options_command, progress


@dataclass(frozen=True)
class SynthOptions:
    """The options of ``synth``, in the order ``--help`` shows them."""

    out_dir: Path = typer.Argument(..., help="Folder to create (it must not exist or be empty, unless --overwrite).")
    subjects: int = typer.Option(16, "--subjects", "-n", help="Subjects (identities), sub01..subNN.")
    clips_per_subject: int = typer.Option(10, "--clips-per-subject", "-k", help="Clips per subject (CASME II has about 10).")
    classes: int = typer.Option( 5, "--classes", help="5: happiness, disgust, repression, surprise, others; 3: negative, positive, surprise." )
    size: int = typer.Option(128, "--size", help="Frame width and height in pixels (at least 32).")
    seed: int = typer.Option(0, "--seed", help="The same seed writes the same bytes.")
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT_DIR if it holds an earlier mesti synth set.")
    workers: int | None = typer.Option( None, "--workers", "-j", help="Worker processes (default: one per CPU core for large sets)." )
    procedural_only: bool = typer.Option(False, "--procedural-only", help="Draw every face; use no photographs.")
    noise: float = typer.Option(1.5, "--noise", help="Sensor noise, grey levels (standard deviation).")
    long: bool = typer.Option(False, "--long", help="Long videos for spotting (SAMM Long Videos layout) instead of clips.")
    videos_per_subject: int = typer.Option(2, "--videos-per-subject", help="With --long: videos per subject.")
    seconds: float = typer.Option(30.0, "--seconds", help="With --long: length of each video, seconds.")
    fps: float = typer.Option(30.0, "--fps", help="With --long: frame rate (30 or SAMM's 200).")
    head_motion: str = typer.Option( "low", "--head-motion", help="With --long: low (sway, small rolls), medium or high (head turns out of the " "image plane up to 8 / 15 degrees, rolls, shifts, talking, lighting drift, more blinks)." )
    layout: str | None = typer.Option( None, "--layout", help="casme2, samm or smic: lay the clips out as that release, with clip_list.csv " "(a stand-in for `mesti paper run`; docs/datasets.md). Default: the CASME II layout alone." )


def _synth(o: SynthOptions) -> None:
    """Generate clips of subtle, AU-shaped facial movements on distinct identities, with a coding sheet.

    With --long: long videos with micro- and macro-expressions at known frames among blinks,
    head motion, flicker and noise (--subjects 16 is then a large set; 4 is the benchmark's).
    """
    from mesti.errors import MestiError

    if o.long and o.layout is not None:
        raise MestiError("--layout", "lays out clips; long videos (--long) have their own layout")
    # An option of the other kind of set would be ignored without a word: say so instead.
    given = {"--videos-per-subject": o.videos_per_subject != 2, "--seconds": o.seconds != 30.0, "--fps": o.fps != 30.0}
    clip_only = {"--clips-per-subject": o.clips_per_subject != 10, "--classes": o.classes != 5, "--workers": o.workers is not None}
    for option, set_ in (given.items() if not o.long else clip_only.items()):
        if set_:
            raise MestiError(option, "applies to long videos: add --long" if not o.long else
                             "applies to clip sets, not to long videos (--long)")
    if o.long:
        _synth_long(o)
        return
    if o.head_motion != "low":
        from mesti.errors import MestiError

        raise MestiError("--head-motion", "is for long videos (--long); clips have their own nuisances")
    if o.layout is not None:
        _synth_as(o.layout, o.out_dir, o.overwrite, subjects=o.subjects, clips_per_subject=o.clips_per_subject, classes=o.classes,
                  size=o.size, seed=o.seed, workers=o.workers, real_faces=not o.procedural_only, noise=o.noise)
        return
    from mesti.synth import generate_dataset

    bar = progress()
    # The bar appears with the first finished work, so argument errors print alone.
    report = ConsoleHooks(bar, names={"synth": f"synth {o.out_dir.name}"}, start_on_first=True)
    try:
        result = generate_dataset(
            o.out_dir, subjects=o.subjects, clips_per_subject=o.clips_per_subject, classes=o.classes, size=o.size,
            seed=o.seed, overwrite=o.overwrite, workers=o.workers, real_faces=not o.procedural_only, noise=o.noise,
            hooks=report,
        )
    finally:
        bar.stop()
    counts = Counter(c.emotion for c in result.plan.clips)
    kinds = Counter("photo" if s.source != "procedural" else "procedural" for s in result.plan.subjects)
    console.print(
        f"{len(result.plan.clips)} clips ({result.frames} frames, {o.size}x{o.size}) of {o.subjects} subjects "
        f"({kinds['photo']} from photos, {kinds['procedural']} procedural) -> {result.path}/ in {result.seconds:.1f} s"
    )
    console.print("emotions: " + ", ".join(f"{e} {n}" for e, n in counts.most_common()))
    console.print(f"sheet {result.sheet}; look at {result.path / 'contact_sheet.png'}; "
                  f"read it as dataset casme2 with root {result.path}")


synth_cmd = options_command(SynthOptions, _synth)


def _synth_long(o: SynthOptions) -> None:
    from mesti.synth.long import generate_long_videos

    with progress() as bar:
        result = generate_long_videos(o.out_dir, subjects=o.subjects, videos_per_subject=o.videos_per_subject,
                                      seconds=o.seconds, fps=o.fps, size=o.size, seed=o.seed, overwrite=o.overwrite,
                                      real_faces=not o.procedural_only, noise=o.noise, head_motion=o.head_motion,
                                      hooks=ConsoleHooks(bar, {"synth long": f"synth --long {o.out_dir.name}"}))
    kinds = Counter(e.kind for v in result.videos for e in v.events)
    console.print(f"{len(result.videos)} videos ({result.frames} frames, {o.size}x{o.size}, {o.fps:g} fps, {o.head_motion} head motion) "
                  f"of {o.subjects} subjects: "
                  f"{kinds['micro']} micro, {kinds['macro']} macro -> {result.path}/ in {result.seconds:.1f} s")
    console.print(f"read it as dataset samm-long with root {result.path} and --opt fps={o.fps:g}")


def _synth_as(layout: str, out_dir: Path, overwrite: bool, **options: object) -> None:
    """Generate the CASME II set in a temporary folder, then lay it out as ``layout`` in ``out_dir``."""
    import tempfile

    from mesti.errors import MestiError
    from mesti.synth import generate_dataset
    from mesti.synth.layouts import LAYOUTS, relayout
    from mesti.utils.outputs import prepare_new_dir

    if layout not in LAYOUTS:
        raise MestiError("--layout", f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    prepare_new_dir(out_dir, "synthetic dataset", overwrite=overwrite, option="OUT_DIR")
    with tempfile.TemporaryDirectory(dir=out_dir.parent if out_dir.parent.exists() else None) as tmp:
        result = generate_dataset(Path(tmp) / "casme2", **options)  # type: ignore[arg-type]
        relayout(result.path, out_dir, layout)
    console.print(f"{len(result.plan.clips)} clips in the {layout} layout -> {out_dir}/ "
                  f"(read it as dataset {layout} with root {out_dir}; clip list {out_dir / 'clip_list.csv'})")


def register(app: typer.Typer) -> None:
    app.command("synth")(handles_errors(synth_cmd))
