"""Frames of a synthetic long video, one at a time: the subject's face moved by its expressions'
AU fields, blinks, talking, head sway and turns, lit with flicker and drifting light, noised.
Reuses the short-clip generator's rig (AU fields, blink field, rise-decay timing), so an
expression here moves the skin exactly as a clip of ``mesti synth`` does.

Turns out of the image plane (yaw, pitch) rotate a head model: the face lies on a paraboloid
(an ellipse of about the head's size, deepest at the nose bridge) with the nose standing out,
rotated about the head's centre and seen orthographically. So a turn moves the nose more than
the cheeks and foreshortens the far side, which no similarity transform undoes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from mesti.synth.action_units import TALK, mover_field
from mesti.synth.landmarks import face_width
from mesti.synth.long.plan import LongVideoSpec
from mesti.synth.render import FaceRig, rise_decay


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _pose(spec: LongVideoSpec, k: int, scale: float) -> tuple[float, float, float, float, float]:
    """Head shift (px), roll, yaw and pitch (radians) at frame ``k``: slow sway plus the turns so far."""
    t = k / spec.fps
    ax, ay, f, ph = spec.sway
    tx, ty = ax * math.sin(2 * math.pi * f * t + ph), ay * math.sin(2 * math.pi * f * t + ph + 1.0)
    roll = yaw = pitch = 0.0
    for turn in spec.turns:
        if k <= turn.start:
            break
        w = _smoothstep((k - turn.start) / turn.frames)
        roll += turn.roll * w
        yaw += turn.yaw * w
        pitch += turn.pitch * w
        tx += turn.shift[0] * w
        ty += turn.shift[1] * w
    return tx * scale, ty * scale, math.radians(roll), math.radians(yaw), math.radians(pitch)


def _rigid(spec: LongVideoSpec, k: int, scale: float) -> tuple[float, float, float]:
    """Head shift (px) and roll (radians) at frame ``k``."""
    return _pose(spec, k, scale)[:3]


def head_depth(rig: FaceRig) -> np.ndarray:
    """``S x S`` depth (px, towards the camera) of the head model behind the face (see the module docstring)."""
    p = rig.face.landmarks.astype(np.float64)
    fw = face_width(p)
    xs, ys = rig.grid
    cx, cy = float(p[27:31, 0].mean()), float(p[[29, 30]].mean(axis=0)[1])
    r2 = ((xs - cx) / (0.62 * fw)) ** 2 + ((ys - cy) / (0.85 * fw)) ** 2
    z = 0.5 * fw * np.clip(1.0 - r2, 0.0, None)
    nose = p[30]
    sigma = 0.07 * fw
    z += 0.22 * fw * np.exp(-((xs - nose[0]) ** 2 + (ys - nose[1]) ** 2) / (2 * sigma * sigma))
    return z.astype(np.float32)


def _turned(xs: np.ndarray, ys: np.ndarray, depth: np.ndarray, centre: tuple[float, float], yaw: float,
            pitch: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each output pixel comes from on the unturned face: the inverse of the head model's
    rotation (fixed-point iterations of the forward map, which moves no pixel by more than a
    fraction of its distance from its neighbours, so they converge)."""
    cx, cy = centre
    cy_, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    X, Y, Z = xs - cx, ys - cy, depth
    x2 = X * cy_ + Z * sy
    z2 = -X * sy + Z * cy_
    y2 = Y * cp - z2 * sp
    dx, dy = (x2 - X).astype(np.float32), (y2 - Y).astype(np.float32)  # forward displacement at each source pixel
    sx, sy_ = xs.copy(), ys.copy()
    for _ in range(4):
        sx = xs - cv2.remap(dx, sx, sy_, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        sy_ = ys - cv2.remap(dy, sx, sy_, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sx, sy_


def _skin(rig: FaceRig, spec: LongVideoSpec, k: int, talk: np.ndarray | None = None) -> np.ndarray | None:
    disp: np.ndarray | None = None
    for e in spec.events:
        if e.onset <= k <= e.offset:
            a = float(rise_decay(np.array([k]), e.onset, e.apex, e.offset, 0.0)[0])
            for au, amp in e.aus:
                part = np.float32(a * amp * rig.scale) * rig.au(au)
                disp = part if disp is None else disp + part
    for b in spec.blinks:
        phase = (k - b.start) / b.frames
        if 0.0 < phase < 1.0:
            part = np.float32(b.closure * math.sin(math.pi * phase) ** 2) * rig.blink_field
            disp = part if disp is None else disp + part
    for t in spec.talks:
        if talk is not None and t.start <= k < t.start + t.frames:
            u = (k - t.start) / spec.fps
            ramp = min(1.0, u / 0.15, (t.frames / spec.fps - u) / 0.15)  # speech starts and stops within 0.15 s
            part = np.float32(ramp * t.opening * rig.scale * math.sin(math.pi * (t.syllables * u + t.phase)) ** 2) * talk
            disp = part if disp is None else disp + part
    return disp


def render_long_video(rig: FaceRig, spec: LongVideoSpec) -> Iterator[np.ndarray]:
    """Yield the video's frames as ``S x S x 3`` uint8 RGB (before JPEG), one at a time."""
    if spec.head_motion != "low":
        yield from _render_moving(rig, spec)
        return
    xs, ys = rig.grid
    cx, cy = (float(v) for v in rig.centre)
    rng = np.random.default_rng(spec.seed)
    amp, f, ph = spec.flicker
    for k in range(spec.frames):
        tx, ty, roll = _rigid(spec, k, rig.scale)
        cos, sin = math.cos(roll), math.sin(roll)
        u, v = xs - (cx + tx), ys - (cy + ty)
        map_x, map_y = cos * u + sin * v + cx, cos * v - sin * u + cy
        d = _skin(rig, spec, k)
        if d is not None:
            map_x -= d[..., 0]
            map_y -= d[..., 1]
        frame = cv2.remap(rig.face.image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        frame *= 1.0 + amp * math.sin(2 * math.pi * f * k / spec.fps + ph)
        frame += rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(spec.noise_sigma)
        np.rint(frame, out=frame)
        yield np.clip(frame, 0, 255, out=frame).astype(np.uint8)


def _render_moving(rig: FaceRig, spec: LongVideoSpec) -> Iterator[np.ndarray]:
    """Frames with turns out of the image plane, talking and drifting light (medium and high motion)."""
    xs, ys = rig.grid
    cx, cy = (float(v) for v in rig.centre)
    depth = head_depth(rig)
    talk = mover_field(rig.face.landmarks, TALK, rig.face.size)
    fw = face_width(rig.face.landmarks)
    side = ((xs - cx) / fw)[..., None]
    rng = np.random.default_rng(spec.seed)
    amp, f, ph = spec.flicker
    g_amp, g_per, g_ph, s_amp, s_per, s_ph = spec.light
    for k in range(spec.frames):
        tx, ty, roll, yaw, pitch = _pose(spec, k, rig.scale)
        cos, sin = math.cos(roll), math.sin(roll)
        u, v = xs - (cx + tx), ys - (cy + ty)
        qx, qy = cos * u + sin * v + cx, cos * v - sin * u + cy  # undo roll and shift
        if yaw or pitch:
            qx, qy = _turned(qx, qy, depth, (cx, cy), yaw, pitch)
        d = _skin(rig, spec, k, talk)
        if d is not None:  # the skin moves on the face, so its field is read where the face point is
            at = cv2.remap(d, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            qx, qy = qx - at[..., 0], qy - at[..., 1]
        frame = cv2.remap(rig.face.image, qx, qy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        t = k / spec.fps
        light = 1.0 + amp * math.sin(2 * math.pi * f * t + ph) + g_amp * math.sin(2 * math.pi * t / g_per + g_ph)
        frame *= np.float32(light) * (1.0 + np.float32(s_amp * math.sin(2 * math.pi * t / s_per + s_ph)) * side)
        frame += rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(spec.noise_sigma)
        np.rint(frame, out=frame)
        yield np.clip(frame, 0, 255, out=frame).astype(np.uint8)
