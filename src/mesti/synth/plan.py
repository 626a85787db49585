"""What to generate, decided up front from the seed: subjects, clips, labels, timing, nuisances.

Everything random about a clip except its per-frame sensor noise is drawn here, in the main
process, so the plan is the ground truth (written to ``synth.json``) and the rendering is a
pure function of it: the same seed gives the same bytes however many workers render.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mesti.datasets.casme2 import label_for
from mesti.synth.action_units import EMOTION_AUS, EMOTION_WEIGHTS, au_code

FPS = 200.0
#: Peak skin displacement of a clip, pixels at 224 px face width.
AMPLITUDE_RANGE = (0.3, 2.0)
#: Onset-to-offset length in frames at 200 fps.
LENGTH_RANGE = (20, 100)
#: How far the annotated apex may be from the true peak, frames (human coders disagree).
APEX_ERROR = 3
#: Chance that a blink falls inside a clip (about 17 blinks a minute over 0.1-0.5 s clips).
BLINK_PROBABILITY = 0.15
#: Photo-derived identities per photo before procedural faces take over.
VARIANTS_PER_PHOTO = 2


@dataclass(frozen=True)
class AUEvent:
    """One action unit in a clip: peak displacement (px at 224 px face width) and its own timing."""

    au: int
    amplitude: float
    lag: int  # frames after the clip's motion onset
    peak: int  # frame index (0 = onset) of its peak


@dataclass(frozen=True)
class Nuisance:
    """Label-free variation of one clip (amplitudes in pixels at 224 px face width)."""

    drift: tuple[float, float]  # total translation (x, y) over the clip, linear part
    wobble: tuple[float, float, float, float]  # sinusoid amplitude x, y, frequency (Hz), phase
    roll: tuple[float, float]  # rotation (degrees): linear part, sinusoid amplitude
    blink: tuple[int, int, float] | None  # start frame, duration (frames), closure 0..1
    flicker: tuple[float, float, float]  # relative amplitude, frequency (Hz), phase
    gain_drift: float  # relative exposure change from onset to offset
    noise_sigma: float  # sensor noise, grey levels


@dataclass(frozen=True)
class ClipSpec:
    """One clip: the sheet row it becomes, and everything needed to render its frames."""

    subject: int  # 1-based
    filename: str
    emotion: str
    label: str | None
    aus: tuple[AUEvent, ...]
    onset_frame: int  # file numbers, as in the sheet
    apex_frame: int  # annotated
    offset_frame: int
    true_apex: int  # frame index (0 = onset) of the real peak
    motion: tuple[int, int]  # frame indices where the movement starts and has decayed
    residual: float  # fraction of the peak left at offset
    nuisance: Nuisance
    seed: int  # per-frame sensor noise

    @property
    def length(self) -> int:
        return self.offset_frame - self.onset_frame + 1

    @property
    def au_text(self) -> str | int:
        return au_code(tuple(e.au for e in self.aus))

    @property
    def folder(self) -> str:
        return f"sub{self.subject:02d}/{self.filename}"


@dataclass(frozen=True)
class SubjectSpec:
    """One identity and its recording session (camera quality is per session, as in a lab)."""

    subject: int
    source: str  # a photo name or "procedural"
    variant: int
    seed: int
    jpeg_quality: int


@dataclass(frozen=True)
class DatasetPlan:
    """The whole set before any pixel: its subjects and clips (``synth.json`` holds it)."""

    subjects: tuple[SubjectSpec, ...]
    clips: tuple[ClipSpec, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        return {"subjects": [asdict(s) for s in self.subjects], "clips": [asdict(c) for c in self.clips]}


def class_counts(weights: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` clips over emotions in proportion to ``weights`` (largest remainder).

    Each emotion gets at least one clip while ``total`` allows, so small sets keep every class.
    """
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=np.float64)
    base = np.full(len(names), 1 if total >= len(names) else 0, dtype=np.int64)
    rest = total - int(base.sum())
    share = w / w.sum() * rest
    counts = base + np.floor(share).astype(np.int64)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    for i in order[: total - int(counts.sum())]:
        counts[i] += 1
    return {n: int(c) for n, c in zip(names, counts, strict=True)}


def _choose(rng: np.random.Generator, options: tuple[tuple[tuple[int, ...], int], ...]) -> tuple[int, ...]:
    """An AU combination drawn in proportion to its count."""
    p = np.array([o[1] for o in options])
    return options[int(rng.choice(len(options), p=p / p.sum()))][0]


def _nuisance(rng: np.random.Generator, length: int, noise_level: float) -> Nuisance:
    """Head motion of a seated, still participant (well under the expression's amplitude on
    average, above it for some clips), an occasional blink, mains-light flicker, sensor noise."""
    blink = None
    if rng.random() < BLINK_PROBABILITY:
        duration = int(rng.integers(16, 31))  # 80-150 ms
        blink = (int(rng.integers(-duration // 2, length - duration // 2)), duration, float(rng.uniform(0.5, 1.0)))
    return Nuisance(
        drift=(float(rng.normal(0, 0.25)), float(rng.normal(0, 0.2))),
        wobble=(float(rng.uniform(0, 0.2)), float(rng.uniform(0, 0.15)),
                float(rng.uniform(0.5, 4.0)), float(rng.uniform(0, 2 * np.pi))),
        roll=(float(rng.normal(0, 0.05)), float(rng.uniform(0, 0.04))),
        blink=blink,
        flicker=(float(rng.uniform(0.001, 0.004)), float(rng.uniform(2.0, 20.0)), float(rng.uniform(0, 2 * np.pi))),
        gain_drift=float(rng.normal(0, 0.003)),
        noise_sigma=float(noise_level * rng.uniform(0.8, 1.2)),
    )


def _clip(rng: np.random.Generator, subject: int, index: int, emotion: str, classes: int, noise_level: float) -> ClipSpec:
    """One clip of ``emotion``: length, coded and true apex, AUs and amplitude, nuisances."""
    length = int(rng.integers(LENGTH_RANGE[0], LENGTH_RANGE[1] + 1))
    onset_frame = int(rng.integers(1, 120))
    start = int(rng.integers(0, 3))  # motion starts at or just after the coded onset
    end = length - 1 - int(rng.integers(0, 3))
    true_apex = int(round(start + (end - start) * rng.uniform(0.3, 0.6)))
    coded = int(np.clip(true_apex + rng.integers(-APEX_ERROR, APEX_ERROR + 1), 1, length - 2))
    peak = float(np.exp(rng.uniform(np.log(AMPLITUDE_RANGE[0]), np.log(AMPLITUDE_RANGE[1]))))
    aus = _choose(rng, EMOTION_AUS[emotion])
    events = []
    for k, au in enumerate(aus):
        lag = 0 if k == 0 else int(rng.integers(0, 4))
        events.append(AUEvent(au, peak if k == 0 else peak * float(rng.uniform(0.6, 1.0)), lag,
                              int(min(true_apex + lag, end))))
    return ClipSpec(
        subject=subject,
        filename=f"EP{index + 1:02d}_01f",
        emotion=emotion,
        label=label_for(emotion, classes),
        aus=tuple(events),
        onset_frame=onset_frame,
        apex_frame=onset_frame + coded,
        offset_frame=onset_frame + length - 1,
        true_apex=true_apex,
        motion=(start, end),
        residual=float(rng.uniform(0.0, 0.15)),
        nuisance=_nuisance(rng, length, noise_level),
        seed=int(rng.integers(2**63)),
    )


def plan_dataset(
    seed: int,
    subjects: int,
    clips_per_subject: int,
    classes: int,
    photos: list[str],
    noise_level: float = 1.5,
) -> DatasetPlan:
    """Draw the whole dataset: identities, each clip's emotion (CASME II's imbalance), AUs, timing.

    Labels are dealt to subjects at random, so no identity predicts a class.
    """
    rng = np.random.default_rng([seed, 0])
    sources: list[tuple[str, int]] = [(p, v) for v in range(VARIANTS_PER_PHOTO) for p in photos]
    sources = sources[:subjects] + [("procedural", 0)] * max(0, subjects - len(sources))
    order = rng.permutation(subjects)
    subject_specs = tuple(
        SubjectSpec(i + 1, sources[order[i]][0], sources[order[i]][1], int(rng.integers(2**63)), int(rng.integers(82, 96)))
        for i in range(subjects)
    )
    counts = class_counts(EMOTION_WEIGHTS[classes], subjects * clips_per_subject)
    emotions = np.array([e for e, n in counts.items() for _ in range(n)])
    emotions = emotions[rng.permutation(len(emotions))]
    clips = []
    for s in range(subjects):
        for k in range(clips_per_subject):
            clip_rng = np.random.default_rng([seed, 1, s, k])
            clips.append(_clip(clip_rng, s + 1, k, str(emotions[s * clips_per_subject + k]), classes, noise_level))
    return DatasetPlan(subject_specs, tuple(clips))
