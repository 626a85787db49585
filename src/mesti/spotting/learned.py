"""The ``learned`` method: a small network on the region-flow features, trained leave-one-subject-out.

SoftNet-style: per frame, the region motions of ``flow`` and its score (normalised by the
video's own median and spread) at a few time offsets go through a two-layer perceptron that
predicts whether the frame lies inside an expression. Frames whose smoothed probability
exceeds 0.7 form the intervals (settings fixed on a synthetic development set).
Training follows the engine's rule: for each subject, a model trained on the other
subjects' videos only spots that subject's videos; nothing is chosen on the test subject
(fixed epochs, no early stopping, no threshold search).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mesti.clips.intervals import Interval
from mesti.clips.stream import FrameStream
from mesti.errors import MestiError
from mesti.protocols.splits import Fold, assert_samples_disjoint
from mesti.spotting.motion import LAG_SECONDS, RegionMotion, region_motion
from mesti.spotting.peaks import run_intervals
from mesti.spotting.registry import register_spotter
from mesti.spotting.result import ProgressFn, SpotResult

#: Time offsets (seconds) of the inputs around each frame.
TAPS_S = (-0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4)
HIDDEN = 32
EPOCHS = 150
LR = 1e-2
#: Fixed decision settings: probability threshold, smoothing window (seconds).
THRESHOLD = 0.7
SMOOTH_S = 0.1


def _robust_z(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column as a robust z-score (median, MAD) and as its excess over the median. A column
    without a value (a video of one or two frames, or without a face) stays NaN, quietly: numpy's
    "All-NaN slice" warning would reach the user for what the features then read as 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(x, axis=0)
        return (x - med) / (np.nanmedian(np.abs(x - med), axis=0) * 1.4826 + 1e-3), x - med


def frame_features(motion: RegionMotion) -> np.ndarray:
    """``frames x ((regions * 2 + 1) * taps)``: each region's robust z-score and pixel excess,
    and the ``flow`` method's score as a z-score, at each tap."""
    from mesti.spotting.flow import motion_score

    z, excess = _robust_z(motion.symmetric().astype(np.float64))
    score_z, _ = _robust_z(motion_score(motion)[:, None].astype(np.float64))
    base = np.nan_to_num(np.concatenate([z, excess, score_z], axis=1))
    n = len(base)
    cols = []
    for tap in TAPS_S:
        idx = np.clip(np.arange(n) + int(round(tap * motion.fps)), 0, n - 1)
        cols.append(base[idx])
    return np.clip(np.concatenate(cols, axis=1), -50, 50).astype(np.float32)


def frame_targets(frames: int, truth: Sequence[Interval]) -> np.ndarray:
    """1 inside every ground-truth interval, 0 outside."""
    y = np.zeros(frames, dtype=np.float32)
    for iv in truth:
        y[iv.onset : iv.offset + 1] = 1.0
    return y


def _net(inputs: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))


def train_net(features: Sequence[np.ndarray], targets: Sequence[np.ndarray], seed: int = 0) -> nn.Module:
    """Fit the perceptron on every frame of the training videos (full batch, fixed epochs)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate(features))
    y = torch.from_numpy(np.concatenate(targets))
    net = _net(x.shape[1])
    pos = float(y.sum())
    weight = torch.tensor((len(y) - pos) / max(pos, 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight.clamp(max=20.0))
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = loss_fn(net(x).squeeze(1), y)
        loss.backward()
        opt.step()
    return net.eval()


@dataclass
class LearnedModel:
    """A trained perceptron and the subjects it saw (so a fold can prove it never saw its test subject)."""

    net: nn.Module
    trained_on: tuple[str, ...]
    settings: dict[str, object] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        from mesti.utils.atomic import atomic_path

        with atomic_path(path) as tmp:
            torch.save({"state": self.net.state_dict(), "trained_on": list(self.trained_on), "taps": list(TAPS_S),
                        "hidden": HIDDEN}, tmp)

    @classmethod
    def load(cls, path: str | Path) -> LearnedModel:
        path = Path(path)
        if path.is_dir():
            found = path / "learned_model.pt"
            if not found.is_file():
                raise MestiError(path, "a folder, not a spotting model: give the learned_model.pt that "
                                       "`mesti spot-eval --method learned` wrote")
            path = found
        if not path.is_file():
            raise MestiError(path, "no such spotting model (`mesti spot-eval --method learned` writes learned_model.pt)")
        try:
            with warnings.catch_warnings():  # torch warns about a refused pickle before raising; the one line below says it
                warnings.simplefilter("ignore", UserWarning)
                doc = torch.load(path, map_location="cpu", weights_only=True)
            net = _net(doc["state"]["0.weight"].shape[1])
            net.load_state_dict(doc["state"])
        except Exception as exc:  # torch.load raises many types (unpickling, zip, key) for a file that is no model
            raise MestiError(path, "not a learned-spotter model (the learned_model.pt of `mesti spot-eval --method "
                                   "learned` is expected)") from None
        return cls(net.eval(), tuple(doc["trained_on"]))


def fit(motions: Sequence[RegionMotion], truths: Sequence[Sequence[Interval]], subjects: Sequence[str], seed: int = 0) -> LearnedModel:
    """Train on these videos (their subjects are recorded in the model)."""
    if not motions:
        raise MestiError("learned", "no training videos")
    net = train_net([frame_features(m) for m in motions], [frame_targets(m.frames, t) for m, t in zip(motions, truths, strict=True)], seed)
    return LearnedModel(net, tuple(sorted(set(subjects))))


@register_spotter("learned")
class LearnedSpotter:
    """A small network on the region-flow features (SoftNet-style), trained leave-one-subject-out on long videos.

    ``LearnedSpotter(model=PATH)`` spots with a model saved by ``mesti spot-eval --method
    learned`` (trained on every subject of that dataset); evaluation itself trains one model
    per held-out subject (:func:`loso_spot`).
    """

    name = "learned"

    def __init__(self, model: str | Path | LearnedModel | None = None, lag_seconds: float = LAG_SECONDS) -> None:
        self.model = model if isinstance(model, LearnedModel) or model is None else LearnedModel.load(model)
        self.lag_seconds = float(lag_seconds)

    def decide(self, motion: RegionMotion, model: LearnedModel | None = None) -> SpotResult:
        model = model or self.model
        if model is None:
            raise MestiError("--method learned", "needs a trained model (--model PATH, saved by mesti spot-eval --method learned)")
        with torch.no_grad():
            p = torch.sigmoid(model.net(torch.from_numpy(frame_features(motion)))).squeeze(1).numpy().astype(np.float64)
        w = max(int(round(SMOOTH_S * motion.fps)), 1)
        p = np.convolve(p, np.ones(2 * w + 1) / (2 * w + 1), mode="same")
        fps = motion.fps
        found = run_intervals(p, THRESHOLD, 0.0, fps, 0.5, max(int(round(0.1 * fps)), 1), max(int(round(0.1 * fps)), 2))
        return SpotResult(motion.video, self.name, fps, motion.frames, found, p, THRESHOLD,
                          {"threshold": THRESHOLD, "smooth_s": SMOOTH_S, "epochs": EPOCHS, "hidden": HIDDEN, "trained_on": list(model.trained_on)},
                          motion.gaps, motion.frames_held)

    def spot(self, stream: FrameStream, progress: ProgressFn | None = None) -> SpotResult:
        if self.model is None:
            self.decide(RegionMotion(str(stream.source), stream.fps, 1, np.zeros((0, 7))))  # raises the clear error
        return self.decide(region_motion(stream, self.lag_seconds, progress=progress))


def motion_fingerprints(motions: Sequence[RegionMotion]) -> list[str]:
    """A digest of each video's measured motion: equal digests are the same video, whatever its
    name or subject (what the clip engine's content guard compares, for long videos). A video
    without a single measured value carries nothing to learn and gets a digest of its own."""
    out = []
    for i, m in enumerate(motions):
        if np.isfinite(m.m).any():
            out.append(hashlib.blake2b(np.ascontiguousarray(m.m).tobytes() + str(m.lag).encode(), digest_size=16).hexdigest())
        else:
            out.append(f"no-motion-{i}")
    return out


def loso_spot(
    motions: Sequence[RegionMotion], truths: Sequence[Sequence[Interval]], subjects: Sequence[str], seed: int = 0
) -> tuple[list[SpotResult], dict[str, tuple[str, ...]]]:
    """Leave-one-subject-out: each subject's videos spotted by a model trained on the others only.

    Each fold passes the clip engine's leakage guard first
    (:func:`~mesti.protocols.splits.assert_samples_disjoint` on :func:`motion_fingerprints`):
    one video listed under two subjects, or copied under another name, is refused rather than
    trained on and tested on. Returns the results in input order and, per test subject, the
    subjects its model saw.
    """
    spotter = LearnedSpotter()
    results: list[SpotResult | None] = [None] * len(motions)
    seen: dict[str, tuple[str, ...]] = {}
    identities = motion_fingerprints(motions)
    names = [m.video for m in motions]
    idx = np.arange(len(motions))
    for test in sorted(set(subjects)):
        train = [i for i, s in enumerate(subjects) if s != test]
        if not train:
            raise MestiError("learned", "leave-one-subject-out needs at least two subjects")
        assert_samples_disjoint(Fold(f"learned-{test}", idx[train], idx[[s == test for s in subjects]]), identities, names)
        model = fit([motions[i] for i in train], [truths[i] for i in train], [subjects[i] for i in train], seed)
        assert test not in model.trained_on
        seen[test] = model.trained_on
        for i, s in enumerate(subjects):
            if s == test:
                results[i] = spotter.decide(motions[i], model)
    return [r for r in results if r is not None], seen
