"""The ``learned`` method: a small network that judges the candidates ``flow`` finds, trained leave-one-subject-out.

``flow`` with a low threshold proposes candidate intervals from both its channels (most
expressions are among them, with many more head turns, blinks, talking and noise). For each
candidate, what ``flow`` measured around it (its peak and mean evidence, its length, each
region's evidence and the head's motion at the peak, how many regions moved at once, the
share of it that was a blink, talking or a fast head turn, the eyes' and the mouth's opening,
the head's overall motion, whether it lies near the video's start or end, its channel, the
other channel's score, and whether ``flow`` itself spots it) goes through a two-layer
perceptron, one per channel, that gives the probability that it is an expression; candidates
above their channel's threshold are the intervals (of overlapping ones, the one ``flow`` spots,
else the most probable). A channel whose perceptron does not beat ``flow`` on the training
subjects keeps ``flow``'s own decisions instead (its threshold is then ``None``).

Nothing is chosen on the test subject. For each held-out subject, the weights are trained on
the other subjects' candidates only (fixed epochs, no early stopping), and the threshold is
chosen on those same training subjects: each of them is judged by a model trained on the
remaining ones (an inner leave-one-subject-out), and each channel's threshold (or ``flow``'s
decision) that gives the best F1 over their videos is kept. The test subject's videos are
spotted once, at the end, with both.
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
from mesti.spotting.evaluate import evaluate_spotting, match_by_type
from mesti.spotting.flow import (CHANNELS, FlowSpotter, evidence_score, frame_runs, nuisances, region_evidence,
                                  turning)
from mesti.spotting.motion import LAG_SECONDS, RegionMotion, region_motion
from mesti.spotting.regions import EXPRESSION_REGIONS
from mesti.spotting.registry import register_spotter
from mesti.spotting.result import SpotResult
from mesti.utils.hooks import Hooks

#: The ``flow`` thresholds that propose candidates (``flow`` itself spots above 6): a low one
#: finds faint expressions, higher ones split what a low one merges.
CANDIDATE_Z = (3.5, 6.0, 12.0)
HIDDEN = 16
EPOCHS = 200
LR = 1e-2
WEIGHT_DECAY = 0.1
#: The thresholds the training subjects choose from, per channel; ``None``: ``flow``'s own decisions.
#: (From 0.05: with one per channel, the micro channel's choice often sat at 0.1, the old edge.)
THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.05, 0.951, 0.05))
CHOICES: tuple[float | None, ...] = (*THRESHOLDS, None)
#: Used only when there are too few training subjects to choose (fewer than two).
DEFAULT_THRESHOLD = 0.5
INPUTS = 2 * len(EXPRESSION_REGIONS) + 19
#: The inputs that say a candidate's channel (1: micro) and whether ``flow`` itself spots it.
CHANNEL_INPUT = INPUTS - 4
SPOTTED_INPUT = INPUTS - 1


@dataclass
class Candidates:
    """The candidate intervals of one video and their inputs (``candidates x INPUTS``)."""

    intervals: list[Interval]
    x: np.ndarray
    score: np.ndarray  # the per-frame flow score, for the plot
    video: str = ""


def candidates(motion: RegionMotion) -> Candidates:
    """``flow``'s intervals of both channels at the thresholds :data:`CANDIDATE_Z`, each with its inputs."""
    blink, talk = nuisances(motion)
    evs = {ch: region_evidence(motion, (blink, talk), ch) for ch in CHANNELS}
    scores = {ch: evidence_score(evs[ch], motion.fps) for ch in CHANNELS}
    found: list[tuple[Interval, str]] = []
    for z in CANDIDATE_Z:
        for ch in CHANNELS:
            for iv in FlowSpotter(z=z).runs(motion, scores[ch]):
                if iv.kind == ch and all((iv.onset, iv.offset) != (f.onset, f.offset) for f, _ in found):
                    found.append((iv, ch))
    found.sort(key=lambda x: (x[0].onset, x[0].offset))
    spotted = {(iv.onset, iv.offset) for iv in FlowSpotter().intervals(motion, scores["micro"], scores["macro"])}
    turn = turning(motion)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        idx = [motion.names.index(n) for n in EXPRESSION_REGIONS]
        heads = {}
        for ch in CHANNELS:
            evs[ch] = np.nan_to_num(evs[ch])
            sym = motion.symmetric(ch)[:, idx]
            spread = 1.4826 * np.nanmedian(np.abs(sym - np.nanmedian(sym, axis=0)), axis=0)
            heads[ch] = motion.symmetric_head(ch)[:, idx] / np.maximum(np.nan_to_num(spread, nan=1.0), 0.02)
        ear = _robust_z(motion.signal("ear"))
        mar = _robust_z(motion.signal("mar"))
        moved = _robust_z(motion.signal("head"))
    edge = max(motion.lag, 1)
    rows = []
    for iv, ch in found:
        score, ev, other = scores[ch], evs[ch], scores["macro" if ch == "micro" else "micro"]
        sl = slice(iv.onset, iv.offset + 1)
        at = iv.apex
        rows.append([
            np.log1p(score[at]), np.log1p(float(score[sl].mean())), np.log((iv.offset - iv.onset + 1) / motion.fps),
            *np.tanh(ev[at] / 10.0), *np.tanh(np.nan_to_num(heads[ch][at]) / 10.0),
            float((ev[at] > 3).sum()), float(blink[sl].mean()), float(talk[sl].mean()),
            float(np.nanmin(ear[sl])) if np.isfinite(ear[sl]).any() else 0.0,
            float(np.nanmax(mar[sl])) if np.isfinite(mar[sl]).any() else 0.0,
            float(np.nanmax(moved[sl])) if np.isfinite(moved[sl]).any() else 0.0,
            float(min(at, motion.frames - 1 - at) < edge),
            float(np.argmax(ev[at])) / len(idx), float(np.sort(ev[at])[-2]) / max(float(ev[at].max()), 1e-3),
            float(score[sl].argmax()) / max(iv.offset - iv.onset, 1),
            float(sum(iv.onset <= f.apex <= iv.offset for f, _ in found)), float(np.log1p(score[sl].max() - score[sl].min())),
            float(ch == "micro"), float(turn[sl].mean()), np.log1p(float(other[sl].max())),
            float((iv.onset, iv.offset) in spotted),
        ])
    x = np.clip(np.nan_to_num(np.array(rows, dtype=np.float64).reshape(-1, INPUTS)), -20, 20).astype(np.float32)
    return Candidates([iv for iv, _ in found], x, np.fmax(scores["micro"], scores["macro"]), motion.video)


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.nanmedian(x)
    return (x - med) / (np.nanmedian(np.abs(x - med)) * 1.4826 + 1e-3)


def candidate_targets(c: Candidates, truth: Sequence[Interval]) -> np.ndarray:
    """1 for a candidate that the evaluation would count as a true positive, else 0."""
    y = np.zeros(len(c.intervals), dtype=np.float32)
    for i, _ in match_by_type(c.intervals, truth):
        y[i] = 1.0
    return y


def _net(inputs: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))


class ChannelNets(nn.Module):
    """One perceptron per ``flow`` channel: a micro candidate is judged by ``micro``, a macro one
    by ``macro`` (the two kinds' false positives differ: blinks and twitches against turns and talking)."""

    def __init__(self, inputs: int = INPUTS) -> None:
        super().__init__()
        self.micro = _net(inputs)
        self.macro = _net(inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x[:, CHANNEL_INPUT : CHANNEL_INPUT + 1] > 0.5, self.micro(x), self.macro(x))


def _fit_one(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Full batch, fixed epochs, positives weighted up to balance the classes."""
    if len(y) == 0:
        return
    pos = float(y.sum())
    weight = torch.tensor((len(y) - pos) / max(pos, 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=weight.clamp(max=10.0))
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = loss_fn(net(x).squeeze(1), y)
        loss.backward()
        opt.step()


def train_net(cands: Sequence[Candidates], targets: Sequence[np.ndarray], seed: int = 0) -> nn.Module:
    """Fit each channel's perceptron on that channel's candidates of the training videos."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate([c.x.reshape(-1, INPUTS) for c in cands]).astype(np.float32))
    y = torch.from_numpy(np.concatenate(targets).astype(np.float32))
    nets = ChannelNets()
    micro = x[:, CHANNEL_INPUT] > 0.5
    _fit_one(nets.micro, x[micro], y[micro])
    _fit_one(nets.macro, x[~micro], y[~micro])
    return nets.eval()


def probability(net: nn.Module, c: Candidates) -> np.ndarray:
    """Each candidate's probability of being an expression."""
    if len(c.intervals) == 0:
        return np.zeros(0)
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(c.x))).squeeze(1).numpy().astype(np.float64)


#: Each channel's threshold on the probability, or ``None`` where ``flow``'s own decisions are kept.
Thresholds = dict[str, float | None]


def uniform(threshold: float) -> Thresholds:
    """The same threshold for both channels."""
    return {ch: threshold for ch in CHANNELS}


def kept(c: Candidates, p: np.ndarray, thresholds: Thresholds) -> list[Interval]:
    """The candidates above their channel's threshold (or that ``flow`` spots, where the channel
    keeps ``flow``'s decisions), scored by their probability; of overlapping ones (the candidates
    of several thresholds nest) the one ``flow`` spots, else the most probable."""
    from dataclasses import replace

    out: list[Interval] = []
    spotted, micro = c.x[:, SPOTTED_INPUT] > 0.5, c.x[:, CHANNEL_INPUT] > 0.5
    first = p + spotted  # p < 1: a spotted candidate comes first
    for i in np.argsort(-first, kind="stable"):
        iv, thr = c.intervals[int(i)], thresholds["micro" if micro[i] else "macro"]
        if (spotted[i] if thr is None else p[i] > thr) and not any(iv.overlaps(o) for o in out):
            out.append(replace(iv, score=float(p[i])))
    return sorted(out, key=lambda iv: iv.onset)


def choose_thresholds(cands: Sequence[Candidates], probs: Sequence[np.ndarray],
                      truths: Sequence[Sequence[Interval]]) -> Thresholds:
    """Each channel's choice among :data:`CHOICES` (a threshold, or ``flow``'s decisions) with
    the best pooled F1 on these (training) videos: the best single threshold first, then each
    channel in turn with the other's fixed, twice. ``flow`` is taken only where strictly better."""
    truth = {str(i): list(t) for i, t in enumerate(truths)}

    def f1(thresholds: Thresholds) -> float:
        pred = {str(i): kept(c, p, thresholds) for i, (c, p) in enumerate(zip(cands, probs, strict=True))}
        return evaluate_spotting(pred, truth).pooled("overall").f1

    best, best_f1 = uniform(DEFAULT_THRESHOLD), -1.0
    for thr in THRESHOLDS:
        score = f1(uniform(thr))
        if score > best_f1 + 1e-12:
            best, best_f1 = uniform(thr), score
    for _ in range(2):
        for ch in CHANNELS:
            for choice in CHOICES:
                trial = {**best, ch: choice}
                score = f1(trial)
                if score > best_f1 + 1e-12:
                    best, best_f1 = trial, score
    return best


@dataclass
class LearnedModel:
    """A trained perceptron, its threshold, and the subjects both came from (so a fold can prove
    it never saw its test subject)."""

    net: nn.Module
    trained_on: tuple[str, ...]
    thresholds: Thresholds = field(default_factory=lambda: uniform(DEFAULT_THRESHOLD))

    def save(self, path: str | Path) -> None:
        from mesti.utils.atomic import atomic_path

        with atomic_path(path) as tmp:
            torch.save({"state": self.net.state_dict(), "trained_on": list(self.trained_on), "inputs": INPUTS,
                        "hidden": HIDDEN, "thresholds": dict(self.thresholds)}, tmp)

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
            inputs, state, trained_on = int(doc["inputs"]), doc["state"], tuple(doc["trained_on"])
        except Exception as exc:  # torch.load raises many types (unpickling, zip, key) for a file that is no model
            raise MestiError(path, "not a learned-spotter model (the learned_model.pt of `mesti spot-eval --method "
                                   "learned` is expected)") from None
        if inputs != INPUTS or "micro.0.weight" not in state:  # an older model: other inputs, one network
            raise MestiError(path, "a learned-spotter model of another version: train it again with mesti spot-eval")
        net = ChannelNets(inputs)
        try:
            net.load_state_dict(state)
        except Exception:  # a damaged state: wrong shapes or keys
            raise MestiError(path, "not a learned-spotter model (its weights do not fit the network)") from None
        if "thresholds" in doc:
            thresholds = {ch: None if doc["thresholds"].get(ch) is None else float(doc["thresholds"][ch]) for ch in CHANNELS}
        else:  # saved before each channel had its own
            thresholds = uniform(float(doc.get("threshold", DEFAULT_THRESHOLD)))
        return cls(net.eval(), trained_on, thresholds)


def fit(motions: Sequence[RegionMotion], truths: Sequence[Sequence[Interval]], subjects: Sequence[str], seed: int = 0,
        cands: Sequence[Candidates] | None = None) -> LearnedModel:
    """Train on these videos and choose the threshold on them by leave-one-subject-out among
    their own subjects (see the module docstring); their subjects are recorded in the model."""
    if not motions:
        raise MestiError("learned", "no training videos")
    cs = list(cands) if cands is not None else [candidates(m) for m in motions]
    targets = [candidate_targets(c, t) for c, t in zip(cs, truths, strict=True)]
    names = sorted(set(subjects))
    thresholds = uniform(DEFAULT_THRESHOLD)
    if len(names) >= 2:
        probs: list[np.ndarray] = [np.zeros(0)] * len(motions)
        for held in names:
            train = [i for i, s in enumerate(subjects) if s != held]
            net = train_net([cs[i] for i in train], [targets[i] for i in train], seed)
            for i, s in enumerate(subjects):
                if s == held:
                    probs[i] = probability(net, cs[i])
        thresholds = choose_thresholds(cs, probs, truths)
    net = train_net(cs, targets, seed)
    return LearnedModel(net, tuple(names), thresholds)


@register_spotter("learned")
class LearnedSpotter:
    """A small network judging flow's low-threshold candidates, weights and threshold trained leave-one-subject-out on long videos.

    ``LearnedSpotter(model=PATH)`` spots with a model saved by ``mesti spot-eval --method
    learned`` (trained on every subject of that dataset, its threshold chosen on them);
    evaluation itself trains one model per held-out subject (:func:`loso_spot`).
    """

    name = "learned"

    def __init__(self, model: str | Path | LearnedModel | None = None, lag_seconds: float = LAG_SECONDS,
                 face_index: int | None = None) -> None:
        self.model = model if isinstance(model, LearnedModel) or model is None else LearnedModel.load(model)
        self.lag_seconds = float(lag_seconds)
        self.face_index = face_index

    def decide(self, motion: RegionMotion, model: LearnedModel | None = None, cands: Candidates | None = None) -> SpotResult:
        model = model or self.model
        if model is None:
            raise MestiError("--method learned", "needs a trained model (--model PATH, saved by mesti spot-eval --method learned)")
        c = cands if cands is not None else candidates(motion)
        p = probability(model.net, c)
        found = kept(c, p, model.thresholds)
        numeric = [t for t in model.thresholds.values() if t is not None]
        per_frame = np.zeros(motion.frames)
        for iv, q in zip(c.intervals, p, strict=True):
            per_frame[iv.onset : iv.offset + 1] = np.maximum(per_frame[iv.onset : iv.offset + 1], q)
        blink, talk = nuisances(motion)
        return SpotResult(motion.video, self.name, motion.fps, motion.frames, found, per_frame,
                          min(numeric, default=DEFAULT_THRESHOLD),
                          {"thresholds": dict(model.thresholds), "threshold_chosen_on": list(model.trained_on),
                           "candidate_z": list(CANDIDATE_Z), "epochs": EPOCHS, "hidden": HIDDEN, "trained_on": list(model.trained_on)},
                          motion.gaps, motion.frames_held, blinks=frame_runs(blink), talking=frame_runs(talk),
                          faces_seen=motion.faces_seen)

    def spot(self, stream: FrameStream, hooks: Hooks | None = None) -> SpotResult:
        if self.model is None:
            self.decide(RegionMotion(str(stream.source), stream.fps, 1, np.zeros((0, 8))))  # raises the clear error
        return self.decide(region_motion(stream, self.lag_seconds, hooks=hooks, face_index=self.face_index))


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
    """Leave-one-subject-out: each subject's videos spotted by a model whose weights and threshold
    come from the other subjects only.

    Each fold passes the clip engine's leakage guard first
    (:func:`~mesti.protocols.splits.assert_samples_disjoint` on :func:`motion_fingerprints`):
    one video listed under two subjects, or copied under another name, is refused rather than
    trained on and tested on. Returns the results in input order and, per test subject, the
    subjects its model saw.
    """
    results, seen, _ = loso_models(motions, truths, subjects, seed)
    return results, seen


def loso_models(
    motions: Sequence[RegionMotion], truths: Sequence[Sequence[Interval]], subjects: Sequence[str], seed: int = 0
) -> tuple[list[SpotResult], dict[str, tuple[str, ...]], dict[str, LearnedModel]]:
    """:func:`loso_spot`, with each fold's model (weights and threshold) as well."""
    spotter = LearnedSpotter()
    results: list[SpotResult | None] = [None] * len(motions)
    seen: dict[str, tuple[str, ...]] = {}
    identities = motion_fingerprints(motions)
    names = [m.video for m in motions]
    idx = np.arange(len(motions))
    models: dict[str, LearnedModel] = {}
    cs = [candidates(m) for m in motions]  # each video's own, from its own pixels: no label is read
    for test in sorted(set(subjects)):
        train = [i for i, s in enumerate(subjects) if s != test]
        if not train:
            raise MestiError("learned", "leave-one-subject-out needs at least two subjects")
        assert_samples_disjoint(Fold(f"learned-{test}", idx[train], idx[[s == test for s in subjects]]), identities, names)
        model = fit([motions[i] for i in train], [truths[i] for i in train], [subjects[i] for i in train], seed,
                    [cs[i] for i in train])
        assert test not in model.trained_on
        seen[test] = model.trained_on
        models[test] = model
        for i, s in enumerate(subjects):
            if s == test:
                results[i] = spotter.decide(motions[i], model, cs[i])
    return [r for r in results if r is not None], seen, models
