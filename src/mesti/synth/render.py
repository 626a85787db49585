"""Frames of one clip: the neutral face warped by AU fields, head motion and blinks, then lit,
noised and JPEG-compressed like a 200 fps camera's output.

Every frame is one ``cv2.remap`` of the neutral face (bicubic, so sub-pixel motion is
rendered as sub-pixel motion, not rounded away): the source position of an output pixel is
the inverse rigid head motion minus the sum of the skin displacement fields at that frame.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from mesti.synth.action_units import BLINK, au_field, mover_field
from mesti.synth.faces import Face
from mesti.synth.landmarks import face_width
from mesti.synth.plan import FPS, ClipSpec

#: Face width at which amplitudes are quoted (the generator's promise: 0.3-2 px at 224 px face width).
REFERENCE_FACE_WIDTH = 224.0


def rise_decay(k: np.ndarray, start: int, peak: int, end: int, residual: float) -> np.ndarray:
    """Intensity 0..1 over frame indices ``k``: raised-cosine rise to ``peak``, decay to ``residual`` at ``end``."""
    k = np.asarray(k, dtype=np.float64)
    rise = 0.5 * (1 - np.cos(np.pi * np.clip((k - start) / max(peak - start, 1), 0, 1)))
    fall = residual + (1 - residual) * 0.5 * (1 + np.cos(np.pi * np.clip((k - peak) / max(end - peak, 1), 0, 1)))
    return np.where(k <= peak, rise, fall)


@dataclass
class FaceRig:
    """A face ready to animate: its AU fields (computed once per subject) and geometry."""

    face: Face
    _fields: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def scale(self) -> float:
        """Pixels in this frame per pixel at the 224 px reference face width."""
        return face_width(self.face.landmarks) / REFERENCE_FACE_WIDTH

    @functools.cached_property
    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.face.size
        ys, xs = np.mgrid[0:s, 0:s].astype(np.float32)
        return xs, ys

    def au(self, au: int) -> np.ndarray:
        """Unit-peak displacement field of action unit ``au`` on this face (cached)."""
        if au not in self._fields:
            self._fields[au] = au_field(self.face.landmarks, au, self.face.size)
        return self._fields[au]

    @functools.cached_property
    def blink_field(self) -> np.ndarray:
        """Upper lids' downward slide, scaled to the eye opening (closure 1 shuts the eye)."""
        p = self.face.landmarks
        opening = float(np.mean(np.linalg.norm(p[[37, 38, 43, 44]] - p[[41, 40, 47, 46]], axis=1)))
        return mover_field(p, BLINK, self.face.size) * np.float32(opening)

    @property
    def centre(self) -> np.ndarray:
        return self.face.landmarks[[27, 28, 29, 30]].mean(axis=0)


def skin_displacement(rig: FaceRig, spec: ClipSpec, k: int) -> np.ndarray:
    """``S x S x 2`` displacement (pixels) of the skin at frame index ``k``: AUs plus blink."""
    disp = np.zeros(rig.face.image.shape[:2] + (2,), dtype=np.float32)
    start, end = spec.motion
    for e in spec.aus:
        a = float(rise_decay(np.array([k]), start + e.lag, e.peak, end, spec.residual)[0])
        if a > 0:
            disp += np.float32(a * e.amplitude * rig.scale) * rig.au(e.au)
    if spec.nuisance.blink is not None:
        b0, dur, closure = spec.nuisance.blink
        phase = (k - b0) / dur
        if 0.0 < phase < 1.0:
            disp += np.float32(closure * np.sin(np.pi * phase) ** 2) * rig.blink_field
    return disp


def _rigid(spec: ClipSpec, k: int, scale: float) -> tuple[float, float, float]:
    """Head translation (px) and roll (radians) at frame index ``k``."""
    n = spec.nuisance
    frac = k / max(spec.length - 1, 1)
    t = k / FPS
    ax, ay, f, ph = n.wobble
    tx = (n.drift[0] * frac + ax * np.sin(2 * np.pi * f * t + ph)) * scale
    ty = (n.drift[1] * frac + ay * np.sin(2 * np.pi * f * t + ph + 1.0)) * scale
    roll = np.deg2rad(n.roll[0] * frac + n.roll[1] * np.sin(2 * np.pi * f * t + ph + 2.0))
    return float(tx), float(ty), float(roll)


def render_clip(rig: FaceRig, spec: ClipSpec, nuisances: bool = True) -> np.ndarray:
    """The clip's frames onset..offset as ``T x S x S x 3`` uint8 RGB (before JPEG).

    ``nuisances=False`` renders the expression alone (no head motion, blink, flicker or
    noise): what tests use to check that movement is where the AUs say.
    """
    xs, ys = rig.grid
    cx, cy = (float(v) for v in rig.centre)
    rng = np.random.default_rng(spec.seed)
    n = spec.nuisance
    out = np.empty((spec.length,) + rig.face.image.shape, dtype=np.uint8)
    skin = spec if nuisances else replace(spec, nuisance=replace(n, blink=None))
    for k in range(spec.length):
        d = skin_displacement(rig, skin, k)
        if nuisances:
            tx, ty, roll = _rigid(spec, k, rig.scale)
            cos, sin = math.cos(roll), math.sin(roll)
            u, v = xs - (cx + tx), ys - (cy + ty)  # inverse rigid motion about the face centre
            map_x = cos * u + sin * v + (cx - d[..., 0])
            map_y = cos * v - sin * u + (cy - d[..., 1])
        else:
            map_x, map_y = xs - d[..., 0], ys - d[..., 1]
        frame = cv2.remap(rig.face.image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        if nuisances:
            amp, f, ph = n.flicker
            frac = k / max(spec.length - 1, 1)
            frame *= 1.0 + n.gain_drift * frac + amp * math.sin(2 * math.pi * f * k / FPS + ph)
            frame += rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(n.noise_sigma)
        np.rint(frame, out=frame)
        out[k] = np.clip(frame, 0, 255, out=frame)
    return out


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    """One RGB uint8 frame as JPEG bytes (libjpeg through OpenCV: deterministic)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV fails only on invalid input
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
