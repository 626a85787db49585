"""``generate_long_videos``: synthetic long videos in the SAMM Long Videos layout.

Output (read back by the ``samm-long`` adapter, the code that reads the real release)::

    OUT_DIR/SAMM_LongVideos_V3_Release.xlsx            one row per expression, 1-based frames
    OUT_DIR/SAMM_longvideos/001_1/001_1_00001.jpg      one folder of frames per video
    OUT_DIR/synth_long.json                            settings and the full ground truth

Built in a temporary folder and renamed into place, so nothing is ever half-written.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mesti.errors import MestiError
from mesti.synth.faces import available_photos, photo_landmarks
from mesti.synth.identity import make_face
from mesti.synth.long.plan import FACE_FRACTION, HEAD_MOTION, LongVideoSpec, plan_long_video
from mesti.synth.long.render import render_long_video
from mesti.synth.long.sheet import SHEET_FILE, long_sheet_bytes
from mesti.synth.render import FaceRig, encode_jpeg
from mesti.utils.atomic import atomic_dir
from mesti.utils.hooks import Hooks
from mesti.utils.ranges import SEED
from mesti.utils.outputs import SYNTH_LONG_MARKER, output_scope, prepare_new_dir

TRUTH_FILE = SYNTH_LONG_MARKER
#: Identities drawn from each photo (the person, then reshaped and recoloured ones) before
#: procedural faces, which the face detector finds less reliably once the head turns.
VARIANTS_PER_PHOTO = 3
VIDEO_FOLDER = "SAMM_longvideos"


@dataclass(frozen=True)
class LongSynthResult:
    path: Path
    videos: tuple[LongVideoSpec, ...]
    frames: int
    seconds: float

    @property
    def sheet(self) -> Path:
        return self.path / SHEET_FILE


def _check(subjects: int, videos: int, seconds: float, fps: float, size: int, noise: float) -> None:
    if not 1 <= subjects <= 999:
        raise MestiError("--subjects", f"1 to 999 subjects, got {subjects}")
    if not 1 <= videos <= 9:
        raise MestiError("--videos-per-subject", f"1 to 9 videos per subject, got {videos}")
    if not 5 <= seconds <= 3600:
        raise MestiError("--seconds", f"a long video lasts 5 s to 1 h, got {seconds}")
    if not 10 <= fps <= 500:
        raise MestiError("--fps", f"10 to 500 frames per second, got {fps}")
    if not 64 <= size <= 1024:
        raise MestiError("--size", f"frames of 64 to 1024 px, got {size}")
    if not 0 <= noise < math.inf:
        raise MestiError("--noise", f"sensor noise is a standard deviation (0 or more, finite), not {noise}")


@dataclass(frozen=True)
class LongSynthSettings:
    """What a set of synthetic long videos is (recorded in its truth file): one seed and these
    give the same videos."""

    subjects: int = 4
    videos_per_subject: int = 2
    seconds: float = 30.0
    fps: float = 30.0
    size: int = 128
    seed: int = 0
    real_faces: bool = True
    noise: float = 1.5
    head_motion: str = "low"


@output_scope()  # the folder is locked until the dataset is written
def generate_long_videos(
    out_dir: str | os.PathLike[str],
    settings: LongSynthSettings | None = None,
    *,
    overwrite: bool = False,
    hooks: Hooks | None = None,
    **fields: Any,
) -> LongSynthResult:
    """Write ``subjects x videos_per_subject`` long videos with expressions at known frames.

    ``settings`` (default :class:`LongSynthSettings`); ``fields`` replace its fields by name,
    so ``generate_long_videos("long", subjects=2, fps=30)`` reads as before.

    ``head_motion`` (``low``, ``medium``, ``high``) sets how much the head turns, talks and the
    light drifts (see :mod:`mesti.synth.long.plan`); one seed has the same expressions at
    every level. Deterministic for a seed. The stage ``synth long`` on ``hooks`` counts
    the frames written. Raises :class:`MestiError` for bad arguments before writing anything.
    """
    chosen = replace(settings or LongSynthSettings(), **fields)
    subjects, videos_per_subject, seconds, fps, size, seed, real_faces, noise, head_motion = (
        chosen.subjects, chosen.videos_per_subject, chosen.seconds, chosen.fps, chosen.size, chosen.seed,
        chosen.real_faces, chosen.noise, chosen.head_motion)
    _check(subjects, videos_per_subject, seconds, fps, size, noise)
    SEED.check(seed)
    if head_motion not in HEAD_MOTION:
        raise MestiError("--head-motion", f"one of {', '.join(HEAD_MOTION)}, got {head_motion!r}")
    out = Path(out_dir)
    prepare_new_dir(out, "synthetic dataset", overwrite=overwrite, option="OUT_DIR")
    start = time.perf_counter()
    photos = available_photos() if real_faces else []
    sources = [(p, v) for v in range(VARIANTS_PER_PHOTO) for p in photos]  # then procedural faces
    specs = tuple(plan_long_video(seed, s, k, seconds, fps, noise, head_motion)
                  for s in range(1, subjects + 1) for k in range(videos_per_subject))
    total = sum(v.frames for v in specs)
    done = 0
    try:
        with atomic_dir(out, "synthetic dataset", option="OUT_DIR") as tmp:
            for s in range(1, subjects + 1):
                source, variant = sources[s - 1] if s - 1 < len(sources) else ("procedural", 0)
                points = None if source == "procedural" else photo_landmarks(source)
                rig = FaceRig(make_face(source, variant, seed * 1000 + s, size, points, FACE_FRACTION[head_motion]))
                for spec in (v for v in specs if v.subject == f"{s:03d}"):
                    folder = tmp / VIDEO_FOLDER / spec.video
                    folder.mkdir(parents=True)
                    for k, frame in enumerate(render_long_video(rig, spec)):
                        (folder / f"{spec.video}_{k + 1:05d}.jpg").write_bytes(encode_jpeg(frame, spec.jpeg_quality))
                        done += 1
                        if hooks is not None and done % 200 == 0:
                            hooks.stage_advanced("synth long", done, total)
            (tmp / SHEET_FILE).write_bytes(long_sheet_bytes(specs))
            truth = {"generator": "mesti synth --long", "layout": f"SAMM Long Videos: {VIDEO_FOLDER}/<video>/<video>_<frame>.jpg",
                     "units": "frames 0-based in this file (1-based in the sheet); amplitudes px at 224 px face width",
                     "settings": asdict(chosen),
                     "videos": [v.to_json() for v in specs]}
            (tmp / TRUTH_FILE).write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise MestiError(out, f"cannot write the videos ({exc.strerror or exc})") from None
    if hooks is not None:
        hooks.stage_advanced("synth long", total, total)
    return LongSynthResult(out, specs, total, time.perf_counter() - start)
