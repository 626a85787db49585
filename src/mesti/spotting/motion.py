"""Region motion: how far each facial region is from the face around it, frame by frame, with
the head's motion removed.

Frames are registered to the first detection (:class:`FaceTracker`: a similarity transform
from the eye corners and the nose bridge) and the lighting's slow variation is taken out of
each crop. Between frame ``t - K`` and frame ``t``, each landmark patch's motion is measured
with the head's motion removed (:mod:`mesti.spotting.patchflow`; the patches are placed on
frame ``t - K``'s own landmarks, so they stay on their part of the face through a turn), and
each region's value is its largest residual patch motion.

With references before and after the frame at two lags longer than any expression (4.2 s and
1.35 times that), the smallest of the four motions is how far frame ``t`` is from the face
around it: an expression shows as one bump over its whole length, an echo left by an
expression (or a held head turn) on one side cancels, and an expression near another one
still finds a clean reference. Near the video's start and end a half lag stands in for the
long one that would reach outside it. Only the longest lag's crops are held, whatever the
video's length.

Each frame also gets references chosen by head pose, before and after it
(:mod:`mesti.spotting.poses`): the nearest in pose (for micro-expressions) and the farthest as
near (for macro-expressions), so a frame of a held turn or a glance is compared with frames in
its own pose. The head's speed per frame (its stable points' motion in the video, in eye
distances per second) marks the turns themselves.

Per frame the landmarks also give the eyes' opening (eye aspect ratio, blinks) and the
mouth's (talking).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mesti.clips.stream import FrameStream, FrameWindow
from mesti.errors import MestiError
from mesti.spotting.patchflow import COMPENSATIONS, Measure, measure_regions, normalise_light
from mesti.spotting.poses import MATCH_MIN_SECONDS, PoseRing, pose_descriptor
from mesti.spotting.regions import REGIONS, region_patches
from mesti.spotting.tracking import FaceTracker
from mesti.utils.hooks import Hooks

#: Longer than the longest macro-expression (4 s), so the lag spans a whole expression.
LAG_SECONDS = 4.2
CROP = 128
#: Landmarks are measured every this many frames (and held in between).
LANDMARK_EVERY = 2
#: The second reference lag, as a multiple of the first.
SECOND_LAG = 1.35
#: Margin around the landmarks' box in the registered crop (room for the forehead's reference patches).
MARGIN = 0.2
#: Pose gap (px) of the fixed references above which a frame's macro channel also uses the
#: farthest pose-chosen ones (below it, the fixed ones share the frame's pose).
FIXED_POSE_GAP = 0.5


@dataclass
class RegionMotion:
    """Per-frame, per-region motion of one video (``frames x regions``, ``nan`` where undefined).

    ``m`` is measured between frame ``t - lag`` and ``t``, ``m3`` between ``t - lag3`` and ``t``
    (a second reference on each side: an expression ``lag`` before or after another one does not
    hide it, nor make one), ``m2`` at the short ``lag2`` only near the video's start and end
    (where a long lag reaches outside it); ``h``, ``h3``, ``h2`` are the head's motion (px) at
    the patch each value came from. ``ear`` is the eyes' aspect ratio and ``mar`` the mouth's
    opening per frame (``nan`` where not measured), ``head`` the head's motion between
    ``t - lag`` and ``t`` (root mean square over the patches, px); ``faces_seen`` the most
    faces one detection found.

    ``q`` and ``q3`` are the pose gaps (px) of the fixed references at ``lag`` and ``lag3``
    (``inf`` where not measured); ``near`` and ``far`` (``2 x frames x regions``: before, after) the motion against
    the pose-chosen references (:mod:`mesti.spotting.poses`), ``near_h`` and ``far_h`` the
    head's motion there; ``speed`` the head's speed per frame (eye distances per second).
    """

    video: str
    fps: float
    lag: int
    m: np.ndarray
    gaps: list[tuple[int, int]] = field(default_factory=list)
    frames_held: int = 0
    names: tuple[str, ...] = REGIONS
    ear: np.ndarray | None = None
    mar: np.ndarray | None = None
    head: np.ndarray | None = None
    faces_seen: int = 1
    h: np.ndarray | None = None
    m2: np.ndarray | None = None
    h2: np.ndarray | None = None
    lag2: int = 0
    m3: np.ndarray | None = None
    h3: np.ndarray | None = None
    lag3: int = 0
    q: np.ndarray | None = None
    q3: np.ndarray | None = None
    near: np.ndarray | None = None
    near_h: np.ndarray | None = None
    far: np.ndarray | None = None
    far_h: np.ndarray | None = None
    speed: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return int(self.m.shape[0])

    def _h(self, h: np.ndarray | None, like: np.ndarray) -> np.ndarray:
        return np.zeros_like(like) if h is None else h

    def _sides(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Before and after: ``m(t)`` and ``m(t + lag)`` with their head motions, the short lag
        filling in where the long one is undefined."""
        h = self._h(self.h, self.m)
        a, ha = self.m, h
        b, hb = _later(self.m, self.lag), _later(h, self.lag)
        if self.m2 is not None and self.lag2:
            h2 = self._h(self.h2, self.m2)
            a, ha = np.where(np.isnan(a), self.m2, a), np.where(np.isnan(a), h2, ha)
            b2, hb2 = _later(self.m2, self.lag2), _later(h2, self.lag2)
            b, hb = np.where(np.isnan(b), b2, b), np.where(np.isnan(b), hb2, hb)
        return a, ha, b, hb

    def _fixed(self) -> tuple[np.ndarray, np.ndarray]:
        """The fixed references' motion and head motion, stacked (``sides x frames x regions``)."""
        a, ha, b, hb = self._sides()
        values, heads = [a, b], [ha, hb]
        if self.m3 is not None and self.lag3:
            h3 = self._h(self.h3, self.m3)
            values += [self.m3, _later(self.m3, self.lag3)]
            heads += [h3, _later(h3, self.lag3)]
        return np.stack(values), np.stack(heads)

    def fixed_pose_gap(self) -> np.ndarray:
        """Per frame, the smallest pose gap (px) of the fixed references (``inf`` where none)."""
        gaps = [g for g in (self.q, self.q3) if g is not None]
        lags = [self.lag, self.lag3][: len(gaps)]
        if not gaps:
            return np.full(self.frames, np.inf)
        stacked = np.stack([*gaps, *(_later(g, d) for g, d in zip(gaps, lags, strict=True))])
        return np.where(np.isnan(stacked), np.inf, stacked).min(axis=0)

    def _all_sides(self, channel: str = "macro") -> tuple[np.ndarray, np.ndarray]:
        """Every reference's motion and head motion, stacked (``sides x frames x regions``): the
        fixed ones, with the ``micro`` channel's nearest-pose ones, or the ``macro`` channel's
        farthest-pose ones where no fixed reference shares the frame's pose."""
        values, heads = self._fixed()
        if channel == "micro" and self.near is not None and self.near_h is not None:
            return np.concatenate([values, self.near]), np.concatenate([heads, self.near_h])
        if channel == "macro" and self.far is not None and self.far_h is not None:
            use = (self.fixed_pose_gap() > FIXED_POSE_GAP)[None, :, None]
            return np.concatenate([values, np.where(use, self.far, np.nan)]), np.concatenate([heads, self.far_h])
        return values, heads

    def one_sided(self) -> np.ndarray:
        """Where every measured reference lies on one side of the frame (only before, or only
        after: near the video's ends, beside a gap): ``frames x regions``. There a held head turn
        is not cancelled by a reference that shares it."""
        values, _ = self._fixed()
        ok = ~np.isnan(values)
        before, after = ok[0::2].any(axis=0), ok[1::2].any(axis=0)
        return before != after

    def symmetric(self, channel: str = "macro") -> np.ndarray:
        """The smallest motion against any reference of ``channel`` (before and after, at each
        lag): how far frame ``t`` is from the face around it. ``nan`` where no reference was measured."""
        values, _ = self._all_sides(channel)
        filled = np.where(np.isnan(values), np.inf, values).min(axis=0)
        return np.where(np.isinf(filled), np.nan, filled)

    def symmetric_head(self, channel: str = "macro") -> np.ndarray:
        """The head's motion against the reference :meth:`symmetric` took (zeros when not measured)."""
        values, heads = self._all_sides(channel)
        pick = np.where(np.isnan(values), np.inf, values).argmin(axis=0)
        return np.nan_to_num(np.take_along_axis(heads, pick[None], axis=0)[0])

    def column(self, name: str) -> np.ndarray:
        return self.symmetric()[:, self.names.index(name)]

    def signal(self, name: str) -> np.ndarray:
        """``ear``, ``mar`` or ``head`` per frame (``nan`` when not measured)."""
        value = getattr(self, name)
        return np.full(self.frames, np.nan) if value is None else np.asarray(value, dtype=np.float64)


def _later(a: np.ndarray, lag: int) -> np.ndarray:
    b = np.full_like(a, np.nan)
    if lag < len(a):
        b[: len(a) - lag] = a[lag:]
    return b


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(a) / max(float(b), 1e-6)


def openings(points: np.ndarray) -> tuple[float, float]:
    """Eye aspect ratio (both eyes' mean lid distance over width) and the mouth's opening
    (inner lips' distance over the mouth's width) of 68 landmarks."""
    p = points
    d = lambda i, j: float(np.linalg.norm(p[i] - p[j]))  # noqa: E731
    ear = (_ratio(d(37, 41) + d(38, 40), 2 * d(36, 39)) + _ratio(d(43, 47) + d(44, 46), 2 * d(42, 45))) / 2
    mar = _ratio(d(61, 67) + d(62, 66) + d(63, 65), 3 * d(48, 54))
    return ear, mar


def _rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, np.nan, dtype=np.float32), np.full(n, np.nan, dtype=np.float32)


def _speed(loc: np.ndarray | None, prev: np.ndarray | None, fps: float) -> float:
    """How fast the head moves in the video: its stable points' rms motion since the last frame,
    in eye distances per second (``nan`` without both)."""
    if loc is None or prev is None:
        return float("nan")
    ocular = max(float(np.linalg.norm(loc[0] - loc[3])), 1.0)
    return float(np.sqrt(((loc - prev) ** 2).sum(axis=1).mean())) / ocular * fps


def region_motion(
    stream: FrameStream, lag_seconds: float = LAG_SECONDS, crop: int = CROP, hooks: Hooks | None = None,
    face_index: int | None = None, compensation: str = "quadratic", landmark_every: int = LANDMARK_EVERY,
    margin: float = MARGIN,
) -> RegionMotion:
    """Track, register and measure region flow over a whole stream (see the module docstring)."""
    if compensation not in COMPENSATIONS:
        raise MestiError("compensation", f"one of {', '.join(COMPENSATIONS)}, not {compensation!r}")
    lag = max(int(round(lag_seconds * stream.fps)), 2)
    lag3 = max(int(round(lag_seconds * SECOND_LAG * stream.fps)), lag + 1)
    lag2 = max(lag // 2, 1)
    minlag = min(max(int(round(MATCH_MIN_SECONDS * stream.fps)), 1), lag3)
    total = stream.count if stream.count and stream.count > 0 else 0
    tracker = FaceTracker(stream.fps, crop=crop, face_index=face_index, landmark_every=landmark_every, margin=margin)
    window: FrameWindow[tuple[np.ndarray, np.ndarray | None] | None] = FrameWindow(lag3 + 1)
    poses = PoseRing(lag3 + 1)
    names = REGIONS
    n = len(names)
    cols: dict[str, list[np.ndarray]] = {key: [] for key in ("m", "h", "m2", "h2", "m3", "h3", "nb", "nbh", "fb", "fbh")}
    gaps: dict[str, list[float]] = {"m": [], "m3": []}  # the fixed references' pose gaps
    after: dict[int, tuple[np.ndarray, ...]] = {}  # frame -> near, near_h, far, far_h against later frames
    ear: list[float] = []
    mar: list[float] = []
    head: list[float] = []
    speed: list[float] = []
    measure: Measure | None = None
    owners: list[np.ndarray] = []
    prev_loc: np.ndarray | None = None
    k = 0

    def held(frame: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        return window[frame - k]  # the newest frame, k - 1, is window[-1]

    done: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, float]] = {}  # pairs measured, while ``old`` is held

    def pair(old: int, new: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Each region's motion from held frame ``old`` to ``new``, the head's motion there and its
        rms (a pose-chosen reference is often a fixed one: measured once)."""
        if (old, new) not in done:
            row, hrow = _rows(n)
            rms = float("nan")
            a, b = held(old), held(new)
            if a is not None and b is not None and measure is not None:
                rms = measure_regions(measure, a, b[0], owners, row, hrow)
            done[(old, new)] = (row, hrow, rms)
        return done[(old, new)]

    def chosen(frame: int, frames: np.ndarray, before: bool) -> tuple[np.ndarray, ...]:
        """Motion against the pose-chosen references among ``frames``: near, near_h, far, far_h."""
        c = poses.choose(frame, frames)
        out: list[np.ndarray] = []
        for ref in (c.nearest, c.farthest):  # often one frame: ``pair`` measures it once
            out += list(_rows(n) if ref is None else (pair(ref, frame) if before else pair(frame, ref))[:2])
        return tuple(out)

    for k, reg in enumerate(tracker.track(stream), start=1):
        f = k - 1
        norm = None if reg is None else normalise_light(reg)
        window.push(None if norm is None else (norm, tracker.points))
        if measure is None and tracker.reference is not None:
            measure = Measure(region_patches(tracker.reference, crop, tracker.inside), crop, compensation)
            owners = [measure.patches.index(nm) for nm in names]
        pts = tracker.points
        poses.push(f, None if pts is None or norm is None else pose_descriptor(pts))
        e, mo = openings(pts) if pts is not None and reg is not None else (np.nan, np.nan)
        ear.append(e)
        mar.append(mo)
        loc = None if reg is None or tracker.location is None else tracker.location.copy()
        speed.append(_speed(loc, prev_loc, stream.fps))
        prev_loc = loc
        near_edge = k <= lag or k > total - lag - 30  # the short lag stands in for the long one there
        moved = np.nan
        for key, d, wanted in (("m", lag, True), ("m3", lag3, True), ("m2", lag2, near_edge)):
            row, hrow = _rows(n)
            measured = wanted and norm is not None and len(window) > d and held(f - d) is not None and measure is not None
            if measured:
                row, hrow, rms = pair(f - d, f)
                if key == "m":
                    moved = rms
            cols[key].append(row)
            cols["h" + key[1:]].append(hrow)
            if key in gaps:  # the short lag's pose gap is never asked for
                gaps[key].append(poses.gap(f, f - d) if measured else float("inf"))
        head.append(moved)
        first = f - min(lag3, len(window) - 1)
        got = chosen(f, np.arange(first, f - minlag + 1), before=True) if norm is not None else (_rows(n) * 2)
        for key, value in zip(("nb", "nbh", "fb", "fbh"), got, strict=True):
            cols[key].append(value)
        t = f - lag3  # the frame whose later references are all held now
        if t >= 0 and held(t) is not None:
            after[t] = chosen(t, np.arange(f, t + minlag - 1, -1), before=False)
        for key in [key for key in done if key[0] <= f - lag3]:  # no longer held
            del done[key]
        if hooks is not None and k % 100 == 0:
            hooks.stage_advanced("spot", k, stream.count)
        del reg, norm
    if tracker.reference is None:
        if face_index is not None and tracker.faces_seen:  # faces there, but not the one asked for
            raise MestiError("--face-index", f"{face_index} asks for face {face_index + 1} from the left, but at most "
                                             f"{tracker.faces_seen} face(s) are seen at once in {stream.source}")
        raise MestiError(stream.source, f"no face found in any of its {k} frames")
    for t in range(max(k - lag3, 0), k - minlag):  # the last frames' references after them
        if held(t) is not None:
            after[t] = chosen(t, np.arange(k - 1, t + minlag - 1, -1), before=False)
    if hooks is not None:
        hooks.stage_advanced("spot", k, k)
    arr = {key: np.array(v, dtype=np.float32).reshape(k, n) for key, v in cols.items()}
    later = np.full((4, k, n), np.nan, dtype=np.float32)
    for t, rows in after.items():
        later[:, t] = np.stack(rows)
    q = {key: np.array(v, dtype=np.float32) for key, v in gaps.items()}
    return RegionMotion(
        str(stream.source), stream.fps, lag, arr["m"], list(tracker.gaps), window.max_held, names,
        np.array(ear, dtype=np.float32), np.array(mar, dtype=np.float32), np.array(head, dtype=np.float32),
        max(tracker.faces_seen, 1), arr["h"], arr["m2"], arr["h2"], lag2, arr["m3"], arr["h3"], lag3,
        q["m"], q["m3"], np.stack([arr["nb"], later[0]]), np.stack([arr["nbh"], later[1]]),
        np.stack([arr["fb"], later[2]]), np.stack([arr["fbh"], later[3]]), np.array(speed, dtype=np.float32))
