"""Action units as smooth, landmark-anchored displacement fields, and emotions as AU sets.

Each AU is a few Gaussian "movers": a point taken from the 68 landmarks, a direction in the
face's frame and a radius, all in units of the face width, so the same AU moves the same
part of every face however it is drawn or cropped. A field is normalised to a peak
displacement of 1 pixel; the renderer scales it by the clip's amplitude. The emotion -> AU
tables are counted from CASME II's coding sheet (happiness mostly AU12 or AU6+12, surprise
AU1+2, disgust AU4 or AU4+9, repression AU17/15/14, others mostly AU4), overlaps included,
which is where part of the task's difficulty comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mesti.synth.landmarks import face_width


@dataclass(frozen=True)
class Mover:
    """Skin around ``anchor`` moves along ``direction``, fading with distance (Gaussian, ``radius``).

    ``anchor`` gives a point from the landmarks; ``direction`` is ``(dx, dy)`` in the face's
    frame (image y down); ``mirror`` makes dx point away from the midline (outward) for a
    point right of it, so one mover serves both sides of the face.
    """

    anchor: tuple[tuple[int, ...], tuple[float, float]]
    direction: tuple[float, float]
    radius: float
    weight: float = 1.0
    mirror: bool = False


def at(*idx: int, dx: float = 0.0, dy: float = 0.0) -> tuple[tuple[int, ...], tuple[float, float]]:
    """A point: the mean of landmarks ``idx`` shifted by ``(dx, dy)`` face widths."""
    return idx, (dx, dy)


UP, DOWN = (0.0, -1.0), (0.0, 1.0)

#: Movers of each action unit (FACS number -> movers). Sides are listed separately where the
#: landmarks differ (left/right brows); ``mirror`` flips horizontal directions by side.
ACTION_UNITS: dict[int, tuple[Mover, ...]] = {
    1: (  # inner brow raiser
        Mover(at(20, 21), UP, 0.055), Mover(at(22, 23), UP, 0.055),
        Mover(at(21, 22, dy=-0.07), UP, 0.07, 0.5),
    ),
    2: (  # outer brow raiser
        Mover(at(17, 18), UP, 0.055), Mover(at(25, 26), UP, 0.055),
        Mover(at(19), UP, 0.05, 0.6), Mover(at(24), UP, 0.05, 0.6),
    ),
    4: (  # brow lowerer: brows down and together
        Mover(at(20, 21), (0.55, 0.85), 0.055), Mover(at(22, 23), (-0.55, 0.85), 0.055),
        Mover(at(18, 19), DOWN, 0.06, 0.6), Mover(at(24, 25), DOWN, 0.06, 0.6),
    ),
    6: (  # cheek raiser: cheeks and lower lids up
        Mover(at(40, 41, 48, dy=-0.02), UP, 0.08), Mover(at(46, 47, 54, dy=-0.02), UP, 0.08),
        Mover(at(40, 41), UP, 0.035, 0.6), Mover(at(46, 47), UP, 0.035, 0.6),
    ),
    9: (  # nose wrinkler: nose wings and upper lip up, brows slightly down
        Mover(at(31, 32), UP, 0.045), Mover(at(34, 35), UP, 0.045),
        Mover(at(29, dx=-0.06), UP, 0.045, 0.6), Mover(at(29, dx=0.06), UP, 0.045, 0.6),
        Mover(at(50, 52), UP, 0.04, 0.5), Mover(at(21, 22), DOWN, 0.05, 0.3),
    ),
    12: (  # lip corner puller: corners up and out
        Mover(at(48), (0.7, -0.7), 0.05, mirror=True), Mover(at(54), (0.7, -0.7), 0.05, mirror=True),
    ),
    14: (  # dimpler: corners pulled in and tightened
        Mover(at(48), (-1.0, 0.0), 0.045, mirror=True), Mover(at(54), (-1.0, 0.0), 0.045, mirror=True),
        Mover(at(48, dx=-0.04), (-1.0, 0.0), 0.03, 0.5, mirror=True),
        Mover(at(54, dx=0.04), (-1.0, 0.0), 0.03, 0.5, mirror=True),
    ),
    15: (  # lip corner depressor: corners down (and a little out)
        Mover(at(48), (0.3, 0.95), 0.05, mirror=True), Mover(at(54), (0.3, 0.95), 0.05, mirror=True),
        Mover(at(58, 59), DOWN, 0.04, 0.4), Mover(at(55, 56), DOWN, 0.04, 0.4),
    ),
    17: (  # chin raiser: chin boss and lower lip up
        Mover(at(8, 57), UP, 0.08), Mover(at(56, 57, 58), UP, 0.04, 0.6),
    ),
}

#: Blink (a nuisance, not an AU of any class): upper lids slide down over the eyes.
BLINK: tuple[Mover, ...] = (
    Mover(at(37, 38, dy=-0.01), DOWN, 0.035), Mover(at(43, 44, dy=-0.01), DOWN, 0.035),
)

#: Talking (a nuisance of long videos): the jaw drops and the lips part, corners drawn in a little.
TALK: tuple[Mover, ...] = (
    Mover(at(57, 8), DOWN, 0.11), Mover(at(56, 57, 58), DOWN, 0.045, 0.8),
    Mover(at(50, 51, 52), UP, 0.035, 0.25),
    Mover(at(48), (-1.0, 0.0), 0.04, 0.3, mirror=True), Mover(at(54), (-1.0, 0.0), 0.04, 0.3, mirror=True),
)

#: Emotion -> (AU combination, clip count), counted from CASME2-coding-20140508.xlsx and kept
#: to the AUs modelled here: AU7 (lid tightener) is dropped, AU10 (upper lip raiser, a levator
#: like AU9) is folded into AU9, combinations seen once or twice with unmodelled AUs (5, 18,
#: 24, 25, 26, 38) are folded into their modelled part. The overlaps are the real coding's:
#: most disgust and most "others" clips are AU4, AU14 appears under happiness, repression and
#: others, so some clips cannot be told apart from their motion alone.
EMOTION_AUS: dict[str, tuple[tuple[tuple[int, ...], int], ...]] = {
    "happiness": (((12,), 15), ((6, 12), 7), ((14,), 3), ((12, 15), 1), ((12, 14), 1), ((1, 12), 1),
                  ((4, 12), 1), ((6, 12, 17), 1), ((14, 15), 1), ((15,), 1)),
    "surprise": (((1, 2), 15), ((1,), 4), ((2,), 4), ((2, 12), 1), ((2, 14), 1)),
    "disgust": (((4,), 32), ((4, 9), 21), ((9,), 2), ((4, 6), 2), ((4, 9, 14), 1), ((2, 15), 1)),
    "repression": (((17,), 13), ((15,), 4), ((15, 17), 4), ((14,), 2), ((12, 15), 1), ((12, 14, 17), 1),
                   ((14, 15), 1), ((4, 15, 17), 1)),
    "others": (((4,), 64), ((14,), 16), ((17,), 6), ((4, 14), 2), ((4, 12), 2), ((15,), 2)),
}

#: Emotions generated for each class set, with CASME II's clip counts as weights
#: (docs/datasets.md: others 99, disgust 63, happiness 32, repression 27, surprise 25).
EMOTION_WEIGHTS: dict[int, dict[str, int]] = {
    5: {"happiness": 32, "disgust": 63, "repression": 27, "surprise": 25, "others": 99},
    3: {"happiness": 32, "disgust": 63, "repression": 27, "surprise": 25},
}


def anchor_point(landmarks: np.ndarray, anchor: tuple[tuple[int, ...], tuple[float, float]]) -> np.ndarray:
    """Pixel position of an anchor on a face with ``landmarks`` (68 x 2)."""
    idx, (dx, dy) = anchor
    return landmarks[list(idx)].mean(axis=0) + np.array([dx, dy], dtype=np.float64) * face_width(landmarks)


def mover_field(landmarks: np.ndarray, movers: tuple[Mover, ...], size: int, normalise: bool = True) -> np.ndarray:
    """``size x size x 2`` float32 displacement (dx, dy) of ``movers`` on this face.

    With ``normalise`` the largest displacement is 1 pixel, so a clip's amplitude is its peak.
    """
    fw = face_width(landmarks)
    midline = float(landmarks[[27, 28, 29, 30, 33, 51, 57, 8]][:, 0].mean())
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    field = np.zeros((size, size, 2), dtype=np.float32)
    for m in movers:
        c = anchor_point(landmarks, m.anchor)
        d = np.array(m.direction, dtype=np.float64)
        if m.mirror and c[0] < midline:
            d[0] = -d[0]
        d = d / np.linalg.norm(d)
        r = m.radius * fw
        g = np.exp(-((xs - c[0]) ** 2 + (ys - c[1]) ** 2) / np.float32(2.0 * r * r))
        field[..., 0] += np.float32(m.weight * d[0]) * g
        field[..., 1] += np.float32(m.weight * d[1]) * g
    if normalise:
        peak = float(np.sqrt((field**2).sum(-1)).max())
        if peak > 0:
            field /= peak
    return field


def au_field(landmarks: np.ndarray, au: int, size: int) -> np.ndarray:
    """Unit-peak displacement field of action unit ``au`` on a face (see :data:`ACTION_UNITS`)."""
    return mover_field(landmarks, ACTION_UNITS[au], size)


def au_region(landmarks: np.ndarray, au: int, size: int, fraction: float = 0.25) -> np.ndarray:
    """Boolean mask where the AU moves skin by more than ``fraction`` of its peak (for tests, pictures)."""
    f = au_field(landmarks, au, size)
    return np.sqrt((f**2).sum(-1)) > fraction


def au_code(aus: tuple[int, ...]) -> str | int:
    """The sheet's Action Units cell: ``12`` for one AU (a number, as CASME II has), else ``'6+12'``."""
    return aus[0] if len(aus) == 1 else "+".join(str(a) for a in aus)
