"""Procedural faces: random geometry, skin, hair, brows, eyes and lips, drawn from 68 landmarks.

The fallback when no photograph is usable (no dlib), and most of the identities of a default
set. The face is drawn at 3x and shrunk for anti-aliased edges; skin carries pore-scale
texture, freckles and moles, so skin motion shows up in the pixels as it does on real skin.
"""

from __future__ import annotations

import cv2
import numpy as np

from mesti.synth.faces import FACE_FRACTION, Face, placement
from mesti.synth.landmarks import BROW_L, BROW_R, EYE_L, EYE_R, MOUTH_INNER, MOUTH_OUTER


def procedural_landmarks(rng: np.random.Generator) -> np.ndarray:
    """68 landmarks of a random face in face units: eye midpoint at 0, jaw width 1."""
    p = np.zeros((68, 2))
    top, chin = rng.uniform(0.0, 0.08), rng.uniform(0.74, 0.86)
    squareness = rng.uniform(0.55, 0.85)
    s = np.linspace(0.0, 1.0, 17)
    c = np.cos(np.pi * s)
    p[0:17, 0] = -0.5 * np.sign(c) * np.abs(c) ** squareness
    p[0:17, 1] = top + (chin - top) * np.sin(np.pi * s) ** rng.uniform(0.8, 1.1)

    eye_dx, eye_w, eye_h = rng.uniform(0.21, 0.25), rng.uniform(0.15, 0.19), rng.uniform(0.035, 0.055)
    for side, idx in ((-1, EYE_R), (1, EYE_L)):
        cx = side * eye_dx
        outer, inner = cx + side * eye_w / 2, cx - side * eye_w / 2
        tilt = rng.uniform(-0.01, 0.015)
        # iBUG order: right eye 36 outer ... 39 inner; left eye 42 inner ... 45 outer.
        a, b = (outer, inner) if side < 0 else (inner, outer)
        xs = [a, a + (b - a) / 3, a + 2 * (b - a) / 3, b, a + 2 * (b - a) / 3, a + (b - a) / 3]
        ys = [-tilt, -eye_h * 0.55, -eye_h * 0.55, tilt * 0.3, eye_h * 0.45, eye_h * 0.45]
        if side > 0:
            ys = [tilt * 0.3, -eye_h * 0.55, -eye_h * 0.55, -tilt, eye_h * 0.45, eye_h * 0.45]
        p[idx, 0], p[idx, 1] = xs, ys

    brow_y, arch = rng.uniform(0.11, 0.17), rng.uniform(0.01, 0.05)
    brow_in, brow_out = rng.uniform(0.08, 0.12), rng.uniform(0.4, 0.46)
    t = np.linspace(0.0, 1.0, 5)
    bx = brow_out + (brow_in - brow_out) * t  # outer -> inner
    by = -brow_y - arch * np.sin(np.pi * (0.25 + 0.6 * t)) + 0.02 * t
    p[BROW_R, 0], p[BROW_R, 1] = -bx, by
    p[BROW_L, 0], p[BROW_L, 1] = bx[::-1], by[::-1]

    nose_tip, nose_w = rng.uniform(0.22, 0.29), rng.uniform(0.09, 0.13)
    p[27:31, 0] = 0.0
    p[27:31, 1] = np.linspace(0.0, nose_tip, 4)
    base_y = nose_tip + rng.uniform(0.03, 0.05)
    p[31:36, 0] = np.linspace(-nose_w, nose_w, 5)
    p[31:36, 1] = base_y + np.array([-0.01, 0.005, 0.012, 0.005, -0.01])

    mouth_y, mouth_w = base_y + rng.uniform(0.1, 0.16), rng.uniform(0.16, 0.21)
    up_t, lo_t, smile = rng.uniform(0.03, 0.055), rng.uniform(0.045, 0.075), rng.uniform(-0.012, 0.012)
    u = np.linspace(-1.0, 1.0, 7)  # 48..54 across the upper lip
    upper = -up_t * (1 - u**2) * (1.0 - 0.35 * np.exp(-(u / 0.2) ** 2)) - smile * u**2
    p[48:55, 0] = mouth_w * u
    p[48:55, 1] = mouth_y + upper
    lo = np.linspace(1.0, -1.0, 7)[1:-1]  # 55..59 back along the lower lip
    p[55:60, 0] = mouth_w * lo
    p[55:60, 1] = mouth_y + lo_t * (1 - lo**2) - smile * lo**2
    inner = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 0.5, 0.0, -0.5]) * mouth_w * 0.8
    p[60:68, 0] = inner
    gap = rng.uniform(0.0, 0.004)
    p[60:68, 1] = mouth_y + np.array([0, -gap, -gap, -gap, 0, gap, gap, gap]) - smile * (inner / mouth_w) ** 2
    return p


def _ellipse_mask(shape: tuple[int, int], center: np.ndarray, axes: tuple[float, float]) -> np.ndarray:
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return (((xs - center[0]) / axes[0]) ** 2 + ((ys - center[1]) / axes[1]) ** 2).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Unit-variance noise smoothed over ``sigma`` pixels (skin, hair and background texture)."""
    n = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), max(sigma, 0.3))
    return n / (n.std() + 1e-6)


_SKIN_TONES = np.array([
    [236, 196, 170], [224, 172, 140], [198, 146, 112], [170, 118, 86], [141, 92, 64],
    [110, 72, 50], [232, 190, 160], [205, 160, 130],
], dtype=np.float32)
_HAIR = np.array([[25, 20, 18], [60, 40, 28], [100, 70, 45], [150, 110, 70], [200, 170, 120],
                  [120, 118, 115], [70, 30, 20]], dtype=np.float32)
_IRIS = np.array([[60, 40, 25], [90, 60, 35], [70, 100, 130], [80, 110, 80], [40, 30, 25]], dtype=np.float32)


def procedural_face(rng: np.random.Generator, size: int, fraction: float = FACE_FRACTION) -> Face:
    """A random drawn face (shape, skin, hair, brows, eyes, lips, texture) with known landmarks."""
    ss = 3  # drawn at 3x and shrunk, for anti-aliased edges
    big = size * ss
    cx, cy, fw, roll = placement(rng, size, fraction)
    unit = procedural_landmarks(rng)
    rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    pts = (unit @ rot.T) * fw + np.array([cx, cy])
    P = pts * ss  # landmarks on the big canvas
    F = fw * ss
    shape = (big, big)

    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.92, 1.06, 3)
    hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15, 3)
    bg_a, bg_b = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)

    ys, xs = np.mgrid[0:big, 0:big].astype(np.float32)
    g = (xs * np.cos(rng.uniform(0, 2 * np.pi)) + ys * np.sin(rng.uniform(0, 2 * np.pi))) / big
    g = (g - g.min()) / (g.max() - g.min() + 1e-6)
    img = (bg_a * (1 - g[..., None]) + bg_b * g[..., None]).astype(np.float32)
    img += 6.0 * _smooth_noise(rng, shape, big / 20)[..., None]

    def fill(mask: np.ndarray, colour: np.ndarray, soft: float = 1.5) -> None:
        m = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), soft * ss)[..., None]
        img[:] = img * (1 - m) + colour * m

    def poly_mask(points: np.ndarray) -> np.ndarray:
        m = np.zeros(shape, np.uint8)
        cv2.fillPoly(m, [np.round(points * 16).astype(np.int32)], 1, cv2.LINE_AA, shift=4)
        return m

    eye_mid = (P[EYE_R].mean(0) + P[EYE_L].mean(0)) / 2
    up = np.array([np.sin(roll), -np.cos(roll)])  # "up" in the face's frame

    # Neck and shoulders, then head: jaw polygon closed by a forehead ellipse.
    neck = np.array([P[5], P[11], P[11] + [0.05 * F, 0.5 * F], P[5] + [-0.05 * F, 0.5 * F]])
    shoulders = np.array([P[8] + [-F, 0.35 * F], P[8] + [F, 0.35 * F], [P[8][0] + F, big * 2], [P[8][0] - F, big * 2]])
    clothes = rng.uniform(20, 230, 3)
    fill(poly_mask(shoulders), clothes)
    fill(poly_mask(neck), skin * 0.85)
    head_top = eye_mid + up * F * rng.uniform(0.6, 0.72)
    arc = [eye_mid + (P[16] - eye_mid) * np.cos(t) + (head_top - eye_mid) * np.sin(t) for t in np.linspace(0, np.pi, 25)]
    head_mask = poly_mask(np.vstack([P[0:17], np.array(arc[1:-1])]))
    for side in (0, 16):  # ears
        centre = tuple(int(v) for v in np.round(P[side] + [0, 0.12 * F]))
        ear = cv2.ellipse2Poly(centre, (int(0.06 * F), int(0.13 * F)), 0, 0, 360, 10)
        fill(poly_mask(ear.astype(np.float64)), skin * 0.9)
    fill(head_mask, skin)

    # Skin shading (rounder at the edges), blush and pore-scale texture.
    dist = np.sqrt(_ellipse_mask(shape, P[30], (0.55 * F, 0.75 * F)))
    shade = 1.0 - 0.22 * np.clip(dist, 0, 1.2) ** 2
    for idx in (3, 13):
        cheek = P[idx] * 0.4 + P[30] * 0.6
        shade += rng.uniform(0.0, 0.06) * np.exp(-_ellipse_mask(shape, cheek, (0.12 * F, 0.1 * F)))
    shade = shade * (1 + 0.05 * _smooth_noise(rng, shape, F / 8)) + 0.02 * _smooth_noise(rng, shape, 1.5 * ss)
    face_m = cv2.GaussianBlur(head_mask.astype(np.float32), (0, 0), 2 * ss)[..., None]
    img[:] = img * (1 - face_m) + img * face_m * shade[..., None]

    # Hair: a cap over the forehead with an irregular hairline, and sides for some.
    hairline = eye_mid + up * F * rng.uniform(0.33, 0.45)
    cap = _ellipse_mask(shape, head_top - up * F * 0.05, (0.58 * F, np.linalg.norm(head_top - hairline) + 0.1 * F))
    wobble = 0.15 * _smooth_noise(rng, shape, F / 10)
    below_line = ((xs - hairline[0]) * up[0] + (ys - hairline[1]) * up[1]) > -0.02 * F * rng.uniform(-1, 1)
    hair_mask = ((cap + wobble) < 1.0) & (below_line | (rng.random() < 0.5))
    if rng.random() < 0.6:  # longer hair at the sides
        hair_mask |= (((cap + wobble) < 1.35) & (np.abs(xs - eye_mid[0]) > 0.47 * F) & (ys < P[8][1] - 0.1 * F))
    strands = 1 + 0.25 * cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (1, 0), sigmaX=0.5, sigmaY=4 * ss)
    hair_img = hair[None, None, :] * strands[..., None]
    m = cv2.GaussianBlur(hair_mask.astype(np.float32), (0, 0), 1.2 * ss)[..., None]
    img[:] = img * (1 - m) + hair_img * m

    # Brows: thick strokes of the hair colour with texture.
    brow_t = F * rng.uniform(0.018, 0.035)
    brow_col = hair * rng.uniform(0.5, 0.9)
    for idx in (BROW_R, BROW_L):
        mk = np.zeros(shape, np.uint8)
        pts_b = np.round(P[idx] * 16).astype(np.int32)
        for a, b in zip(pts_b[:-1], pts_b[1:], strict=True):
            cv2.line(mk, tuple(a), tuple(b), 1, int(brow_t * (1.3 if a[0] < b[0] else 1.0)), cv2.LINE_AA, shift=4)
        mk = mk.astype(np.float32) * np.clip(1 + 0.3 * strands, 0, 1.3)
        fill(mk, brow_col, soft=0.8)

    # Eyes: crease, sclera, iris, pupil, lash line.
    iris_col = _IRIS[rng.integers(len(_IRIS))]
    for idx in (EYE_R, EYE_L):
        e = P[idx]
        crease = e[[0, 1, 2, 3]] + up * F * 0.03
        mk = np.zeros(shape, np.uint8)
        cv2.polylines(mk, [np.round(crease * 16).astype(np.int32)], False, 1, int(0.008 * F) + 1, cv2.LINE_AA, shift=4)
        fill(mk, skin * 0.7, soft=1.5)
        sclera = poly_mask(e)
        fill(sclera, np.array([235, 228, 222], np.float32) * rng.uniform(0.9, 1.0), soft=0.6)
        centre = e.mean(0) + [rng.uniform(-0.01, 0.01) * F, 0]
        r_iris = np.linalg.norm(e[0] - e[3]) * 0.24
        iris = (_ellipse_mask(shape, centre, (r_iris, r_iris)) < 1) & (sclera > 0)
        fill(iris, iris_col, soft=0.5)
        pupil = (_ellipse_mask(shape, centre, (r_iris * 0.45, r_iris * 0.45)) < 1) & (sclera > 0)
        fill(pupil, np.array([15, 12, 12], np.float32), soft=0.4)
        mk = np.zeros(shape, np.uint8)
        cv2.polylines(mk, [np.round(e[[0, 1, 2, 3]] * 16).astype(np.int32)], False, 1, int(0.01 * F) + 1, cv2.LINE_AA, shift=4)
        fill(mk, np.array([30, 22, 20], np.float32), soft=0.5)

    # Nose: soft side shadow, nostrils, tip highlight.
    side = 1 if rng.random() < 0.5 else -1
    shadow = np.exp(-_ellipse_mask(shape, P[29] + [side * 0.05 * F, 0], (0.025 * F, 0.12 * F)))
    img[:] *= (1 - 0.12 * shadow)[..., None]
    for i in (32, 34):
        fill(_ellipse_mask(shape, P[i] + up * 0.005 * F, (0.022 * F, 0.012 * F)) < 1, skin * 0.35, soft=1.0)
    img[:] *= (1 + 0.06 * np.exp(-_ellipse_mask(shape, P[30], (0.04 * F, 0.035 * F))))[..., None]

    # Lips and the line between them; stubble for some.
    lip_col = skin * np.array([0.85, 0.55, 0.55]) * rng.uniform(0.85, 1.05)
    fill(poly_mask(P[MOUTH_OUTER]), lip_col, soft=0.7)
    mk = np.zeros(shape, np.uint8)
    cv2.polylines(mk, [np.round(P[MOUTH_INNER] * 16).astype(np.int32)], True, 1, int(0.007 * F) + 1, cv2.LINE_AA, shift=4)
    fill(mk, lip_col * 0.4, soft=0.6)
    if rng.random() < 0.2:  # stubble: darker, grainy skin around mouth and chin
        beard = (_ellipse_mask(shape, (P[8] + P[51]) / 2, (0.34 * F, 0.26 * F)) < 1) & (poly_mask(P[0:17]) > 0)
        beard &= ~(poly_mask(P[MOUTH_OUTER]) > 0)
        m = cv2.GaussianBlur(beard.astype(np.float32), (0, 0), 4 * ss)
        grain = np.clip(0.6 + 0.4 * _smooth_noise(rng, shape, 0.6 * ss), 0, 1)
        img[:] *= (1 - rng.uniform(0.15, 0.35) * m * grain)[..., None]
    # Moles and freckles: identity marks that move with the skin.
    for _ in range(rng.integers(0, 4)):
        at = P[rng.integers(0, 68)] + rng.normal(0, 0.06 * F, 2)
        fill(_ellipse_mask(shape, at, (0.008 * F, 0.008 * F)) < 1, skin * 0.55, soft=0.6)

    small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return Face(np.clip(small, 0, 255).astype(np.float32), pts.astype(np.float32), "procedural")
