"""What a synthetic long video holds, drawn up front from the seed: expressions and distractors.

Every random choice except per-frame sensor noise is made here, so the plan is the ground
truth (``synth_long.json``) and rendering is a pure function of it. Positions are 0-based
frame indices; durations are drawn in seconds, so 30 and 200 fps videos of one seed hold the
same events at the same times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mesti.synth.action_units import EMOTION_AUS

#: Micro-expressions last 0.2-0.5 s, macro-expressions 0.5-4 s.
MICRO_SECONDS = (0.2, 0.5)
MACRO_SECONDS = (0.6, 3.5)
#: Peak skin displacement (px at 224 px face width): micro subtle, macro several times larger.
MICRO_AMPLITUDE = (1.2, 3.0)
MACRO_AMPLITUDE = (3.0, 7.0)
#: Quiet time between two expressions, seconds.
GAP_SECONDS = (2.5, 7.0)
#: Blinks per minute (people blink 10-20 times a minute) and their length in seconds.
BLINKS_PER_MINUTE = 14.0
BLINK_SECONDS = (0.1, 0.25)
#: Head turns (a roll and a shift over 0.4-1.2 s) per minute.
TURNS_PER_MINUTE = 3.0


@dataclass(frozen=True)
class LongEvent:
    """One expression: inclusive frames ``onset..offset``, its apex, type and AU movement."""

    onset: int
    apex: int
    offset: int
    kind: str  # "micro" or "macro"
    emotion: str
    aus: tuple[tuple[int, float], ...]  # (action unit, peak amplitude px at 224 px face width)


@dataclass(frozen=True)
class Blink:
    start: int
    frames: int
    closure: float


@dataclass(frozen=True)
class Turn:
    """A head turn: roll (degrees) and shift (px at 224 px face width) reached over ``frames``."""

    start: int
    frames: int
    roll: float
    shift: tuple[float, float]


@dataclass(frozen=True)
class LongVideoSpec:
    """One long video of one subject: where it goes, how long, what happens in it."""

    subject: str  # '001'
    video: str  # '001_1' (subject_inducement, SAMM's naming)
    fps: float
    frames: int
    events: tuple[LongEvent, ...]
    blinks: tuple[Blink, ...]
    turns: tuple[Turn, ...]
    sway: tuple[float, float, float, float]  # slow head sway: amplitude x, y (px), frequency (Hz), phase
    flicker: tuple[float, float, float]  # relative amplitude, frequency (Hz), phase
    noise_sigma: float
    jpeg_quality: int
    seed: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _events(rng: np.random.Generator, frames: int, fps: float) -> tuple[LongEvent, ...]:
    events: list[LongEvent] = []
    t = rng.uniform(1.0, 3.0)
    end = frames / fps - 1.0
    emotions = sorted(EMOTION_AUS)
    while True:
        kind = "micro" if rng.random() < 0.5 else "macro"
        lo, hi = MICRO_SECONDS if kind == "micro" else MACRO_SECONDS
        seconds = rng.uniform(lo, hi)
        if t + seconds > end:
            break
        onset = int(round(t * fps))
        offset = min(onset + max(int(round(seconds * fps)) - 1, 2), frames - 1)
        apex = int(round(onset + (offset - onset) * rng.uniform(0.35, 0.6)))
        emotion = emotions[int(rng.integers(len(emotions)))]
        options = EMOTION_AUS[emotion]
        weights = np.array([n for _, n in options], dtype=np.float64)
        aus = options[int(rng.choice(len(options), p=weights / weights.sum()))][0]
        a_lo, a_hi = MICRO_AMPLITUDE if kind == "micro" else MACRO_AMPLITUDE
        peak = float(np.exp(rng.uniform(np.log(a_lo), np.log(a_hi))))
        amps = tuple((int(au), peak if i == 0 else peak * float(rng.uniform(0.6, 1.0))) for i, au in enumerate(aus))
        events.append(LongEvent(onset, apex, offset, kind, emotion, amps))
        t += seconds + rng.uniform(*GAP_SECONDS)
    return tuple(events)


def _poisson_starts(rng: np.random.Generator, frames: int, fps: float, per_minute: float) -> list[int]:
    count = int(rng.poisson(per_minute * frames / fps / 60.0))
    return sorted(int(s) for s in rng.integers(0, max(frames - 1, 1), size=count))


def plan_long_video(seed: int, subject: int, index: int, seconds: float, fps: float, noise: float) -> LongVideoSpec:
    """Draw one video: expressions with quiet gaps between them, blinks, head turns, sway, flicker."""
    rng = np.random.default_rng([seed, 2, subject, index])
    frames = int(round(seconds * fps))
    blinks = tuple(
        Blink(s, max(int(round(rng.uniform(*BLINK_SECONDS) * fps)), 2), float(rng.uniform(0.6, 1.0)))
        for s in _poisson_starts(rng, frames, fps, BLINKS_PER_MINUTE)
    )
    turns = tuple(
        Turn(s, max(int(round(rng.uniform(0.4, 1.2) * fps)), 2), float(rng.normal(0, 1.5)),
             (float(rng.normal(0, 4.0)), float(rng.normal(0, 3.0))))
        for s in _poisson_starts(rng, frames, fps, TURNS_PER_MINUTE)
    )
    return LongVideoSpec(
        subject=f"{subject:03d}",
        video=f"{subject:03d}_{index + 1}",
        fps=float(fps),
        frames=frames,
        events=_events(rng, frames, fps),
        blinks=blinks,
        turns=turns,
        sway=(float(rng.uniform(1.0, 4.0)), float(rng.uniform(0.5, 3.0)), float(rng.uniform(0.03, 0.15)),
              float(rng.uniform(0, 2 * np.pi))),
        flicker=(float(rng.uniform(0.001, 0.005)), float(rng.uniform(2.0, 12.0)), float(rng.uniform(0, 2 * np.pi))),
        noise_sigma=float(noise * rng.uniform(0.8, 1.2)),
        jpeg_quality=int(rng.integers(85, 96)),
        seed=int(rng.integers(2**63)),
    )
