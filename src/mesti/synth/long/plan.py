"""What a synthetic long video holds, drawn up front from the seed: expressions and distractors.

Every random choice except per-frame sensor noise is made here, so the plan is the ground
truth (``synth_long.json``) and rendering is a pure function of it. Positions are 0-based
frame indices; durations are drawn in seconds, so 30 and 200 fps videos of one seed hold the
same events at the same times.

The head-motion level (``low``, ``medium``, ``high``) sets the distractors only: one seed holds
the same expressions at every level. ``low`` is small sway and rolls (the default); ``medium``
and ``high`` add head turns out of the image plane (yaw up to 8 and 15 degrees, pitch, roll,
translation, often a glance that comes back), talking, lighting drift and more blinks, as
real recordings have.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
HEAD_MOTION = ("low", "medium", "high")
#: Jaw width as a part of the frame at each level: a moving head needs room to stay in view.
FACE_FRACTION = {"low": 0.8, "medium": 0.66, "high": 0.62}


@dataclass(frozen=True)
class MotionLevel:
    """The distractors of one head-motion level (angles in degrees, shifts in px at 224 px face width).

    Turns move the head to a new pose drawn uniformly within the limits (``glance`` of them
    come back after ``hold`` seconds); talking spans last ``talk_seconds``; the lighting
    drifts by up to ``gain`` (overall) and ``side`` (one side of the face against the other).
    """

    turns_per_minute: float
    yaw: float
    pitch: float
    roll: float
    shift: float
    turn_seconds: tuple[float, float]
    glance: float
    hold: tuple[float, float]
    talks_per_minute: float
    talk_seconds: tuple[float, float]
    gain: float
    side: float
    blinks_per_minute: float


LEVELS: dict[str, MotionLevel] = {
    "medium": MotionLevel(4.0, 8.0, 5.0, 4.0, 8.0, (0.4, 1.2), 0.4, (0.8, 3.0), 2.0, (1.0, 3.0), 0.05, 0.05, 16.0),
    "high": MotionLevel(6.0, 15.0, 8.0, 8.0, 14.0, (0.3, 1.0), 0.5, (0.6, 3.0), 3.0, (1.0, 4.0), 0.12, 0.10, 18.0),
}


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
    """A head turn: roll, yaw and pitch (degrees) and shift (px at 224 px face width) added over ``frames``."""

    start: int
    frames: int
    roll: float
    shift: tuple[float, float]
    yaw: float = 0.0
    pitch: float = 0.0


@dataclass(frozen=True)
class Talk:
    """Talking: the jaw and lips open and close ``syllables`` times a second, up to ``opening`` px at 224 px face width."""

    start: int
    frames: int
    syllables: float
    opening: float
    phase: float


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
    head_motion: str = "low"
    talks: tuple[Talk, ...] = ()
    #: Lighting drift: overall gain amplitude, period (s), phase; side-light amplitude, period, phase.
    light: tuple[float, float, float, float, float, float] = (0.0, 1.0, 0.0, 0.0, 1.0, 0.0)

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


def _level_turns(rng: np.random.Generator, frames: int, fps: float, lv: MotionLevel) -> tuple[Turn, ...]:
    """Turns to new poses drawn within the level's limits; a glance comes back to where it started."""
    pose = np.zeros(5)  # roll, yaw, pitch, shift x, shift y
    limits = np.array([lv.roll, lv.yaw, lv.pitch, lv.shift, lv.shift * 0.6])
    turns: list[Turn] = []
    busy_until = -1
    for s in _poisson_starts(rng, frames, fps, lv.turns_per_minute):
        if s <= busy_until:
            continue
        n = max(int(round(rng.uniform(*lv.turn_seconds) * fps)), 2)
        target = rng.uniform(-1.0, 1.0, size=5) * limits
        step = target - pose
        turns.append(Turn(s, n, float(step[0]), (float(step[3]), float(step[4])), float(step[1]), float(step[2])))
        busy_until = s + n
        if rng.random() < lv.glance:
            back = busy_until + max(int(round(rng.uniform(*lv.hold) * fps)), 1)
            m = max(int(round(rng.uniform(*lv.turn_seconds) * fps)), 2)
            if back + m < frames:
                turns.append(Turn(back, m, float(-step[0]), (float(-step[3]), float(-step[4])), float(-step[1]),
                                  float(-step[2])))
                busy_until = back + m
                continue
        pose = target
    return tuple(turns)


def _talks(rng: np.random.Generator, events: tuple[LongEvent, ...], frames: int, fps: float, lv: MotionLevel) -> tuple[Talk, ...]:
    """Talking spans in the quiet time between expressions (at least 0.3 s from each), about
    ``talks_per_minute`` of them where there is room."""
    pad = int(round(0.3 * fps))
    taken = sorted([(e.onset - pad, e.offset + pad) for e in events])
    talks: list[Talk] = []
    for _ in range(int(rng.poisson(lv.talks_per_minute * frames / fps / 60.0))):
        n = max(int(round(rng.uniform(*lv.talk_seconds) * fps)), 2)
        edges = [-1, *[x for iv in taken for x in iv], frames]
        gaps = [(edges[i] + 1, edges[i + 1] - 1) for i in range(0, len(edges), 2) if edges[i + 1] - edges[i] - 1 >= n + 2 * pad]
        if not gaps:
            continue
        a, b = gaps[int(rng.integers(len(gaps)))]
        start = int(rng.integers(a + pad, b - pad - n + 1)) if b - pad - n + 1 > a + pad else a + pad
        start = max(start, 0)
        if start + n >= frames:
            continue
        taken = sorted([*taken, (start - pad, start + n + pad)])
        talks.append(Talk(start, n, float(rng.uniform(3.0, 5.5)), float(rng.uniform(4.0, 9.0)), float(rng.uniform(0, 1))))
    return tuple(sorted(talks, key=lambda t: t.start))


def plan_long_video(
    seed: int, subject: int, index: int, seconds: float, fps: float, noise: float, head_motion: str = "low"
) -> LongVideoSpec:
    """Draw one video: expressions with quiet gaps between them, blinks, head turns, sway, flicker;
    at ``medium`` and ``high`` head motion, turns out of the image plane, talking and lighting drift too."""
    if head_motion not in HEAD_MOTION:
        raise ValueError(f"head motion is one of {', '.join(HEAD_MOTION)}, not {head_motion!r}")
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
    spec = LongVideoSpec(
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
    if head_motion == "low":
        return spec
    # The level's distractors come from a stream of their own: the expressions stay those of "low".
    lv = LEVELS[head_motion]
    r2 = np.random.default_rng([seed, 3, subject, index, HEAD_MOTION.index(head_motion)])
    blinks = tuple(
        Blink(s, max(int(round(r2.uniform(*BLINK_SECONDS) * fps)), 2), float(r2.uniform(0.6, 1.0)))
        for s in _poisson_starts(r2, frames, fps, lv.blinks_per_minute)
    )
    light = (float(r2.uniform(0.5, 1.0) * lv.gain), float(r2.uniform(15.0, 45.0)), float(r2.uniform(0, 2 * np.pi)),
             float(r2.uniform(0.5, 1.0) * lv.side), float(r2.uniform(10.0, 30.0)), float(r2.uniform(0, 2 * np.pi)))
    return replace(spec, head_motion=head_motion, blinks=blinks, turns=_level_turns(r2, frames, fps, lv),
                   talks=_talks(r2, spec.events, frames, fps, lv), light=light)
