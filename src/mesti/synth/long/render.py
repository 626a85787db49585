"""Frames of a synthetic long video, one at a time: the subject's face moved by its expressions'
AU fields, blinks, head sway and turns, lit with flicker, noised. Reuses the short-clip
generator's rig (AU fields, blink field, rise-decay timing), so an expression here moves the
skin exactly as a clip of ``mesti synth`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from mesti.synth.long.plan import LongVideoSpec
from mesti.synth.render import FaceRig, rise_decay


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _rigid(spec: LongVideoSpec, k: int, scale: float) -> tuple[float, float, float]:
    """Head shift (px) and roll (radians) at frame ``k``: slow sway plus the turns so far."""
    t = k / spec.fps
    ax, ay, f, ph = spec.sway
    tx, ty = ax * math.sin(2 * math.pi * f * t + ph), ay * math.sin(2 * math.pi * f * t + ph + 1.0)
    roll = 0.0
    for turn in spec.turns:
        if k <= turn.start:
            break
        w = _smoothstep((k - turn.start) / turn.frames)
        roll += turn.roll * w
        tx += turn.shift[0] * w
        ty += turn.shift[1] * w
    return tx * scale, ty * scale, math.radians(roll)


def _skin(rig: FaceRig, spec: LongVideoSpec, k: int) -> np.ndarray | None:
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
    return disp


def render_long_video(rig: FaceRig, spec: LongVideoSpec) -> Iterator[np.ndarray]:
    """Yield the video's frames as ``S x S x 3`` uint8 RGB (before JPEG), one at a time."""
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
