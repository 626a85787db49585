"""Spotting methods on synthetic long videos, and the learned method's leave-one-subject-out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mesti.clips.intervals import Interval
from mesti.clips.stream import open_stream
from mesti.datasets.registry import create_dataset
from mesti.errors import MestiError
from mesti.spotting import create_spotter, evaluate_spotting, list_spotters
from mesti.spotting.learned import loso_spot
from mesti.spotting.motion import REGIONS, RegionMotion
from mesti.synth.long import LongSynthResult


def test_registry_lists_every_method() -> None:
    assert list_spotters() == ["flow", "lbp", "learned", "naive"]
    with pytest.raises(MestiError, match="unknown spotting method"):
        create_spotter("magic")
    with pytest.raises(MestiError, match="needs a trained model"):
        create_spotter("learned").decide(RegionMotion("v", 30.0, 5, np.zeros((10, len(REGIONS)))))  # type: ignore[attr-defined]


@pytest.mark.parametrize("method", ["flow", "lbp", "naive"])
def test_training_free_methods_give_valid_intervals(long_set: LongSynthResult, method: str) -> None:
    video = create_dataset("samm-long", long_set.path, fps=30).videos()[0]
    result = create_spotter(method).spot(open_stream(video.path, 30))
    assert result.frames == 360 and len(result.score) == 360 and result.gaps == []
    for iv in result.intervals:
        assert 0 <= iv.onset <= iv.apex <= iv.offset < 360 and iv.kind in ("micro", "macro")
    assert result.settings  # fixed settings travel with every result


def test_flow_finds_the_synthetic_expressions(long_set: LongSynthResult) -> None:
    adapter = create_dataset("samm-long", long_set.path, fps=30)
    spotter = create_spotter("flow")
    videos = adapter.videos()
    predicted = {v.video_id: spotter.spot(open_stream(v.path, 30)).intervals for v in videos}
    overall = evaluate_spotting(predicted, {v.video_id: list(v.intervals) for v in videos}).pooled("overall")
    assert overall.tp >= 1 and overall.precision >= 0.3


def _motion(video: str, rng: np.random.Generator, truth: list[Interval]) -> RegionMotion:
    m = rng.uniform(0.0, 0.05, size=(300, len(REGIONS))).astype(np.float32)
    for iv in truth:
        m[iv.onset : iv.offset + 1, REGIONS.index("mouth")] += 0.5
    return RegionMotion(video, 30.0, 10, m)


def test_learned_loso_never_sees_the_test_subject() -> None:
    rng = np.random.default_rng(0)
    subjects = ["s1", "s1", "s2", "s3"]
    truths = [[Interval(40 + 20 * i, 50 + 20 * i, 60 + 20 * i, "macro")] for i in range(4)]
    motions = [_motion(f"v{i}", rng, t) for i, t in enumerate(truths)]
    results, folds = loso_spot(motions, truths, subjects)
    assert folds == {"s1": ("s2", "s3"), "s2": ("s1", "s3"), "s3": ("s1", "s2")}
    for subject, result in zip(subjects, results, strict=True):
        assert subject not in result.settings["trained_on"]
    # A clear bump in the mouth region is learned from the other subjects.
    found = evaluate_spotting({f"v{i}": r.intervals for i, r in enumerate(results)},
                              {f"v{i}": t for i, t in enumerate(truths)}).pooled("overall")
    assert found.tp >= 3
    with pytest.raises(MestiError, match="at least two subjects"):
        loso_spot(motions[:2], truths[:2], ["s1", "s1"])


def test_learned_model_saves_and_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mesti.spotting.learned import LearnedSpotter, fit

    rng = np.random.default_rng(1)
    truths = [[Interval(50, 60, 70, "macro")], [Interval(100, 110, 120, "macro")]]
    motions = [_motion(f"v{i}", rng, t) for i, t in enumerate(truths)]
    path = tmp_path / "model.pt"
    fit(motions, truths, ["a", "b"]).save(path)
    spotter = LearnedSpotter(model=path)
    assert spotter.model is not None and spotter.model.trained_on == ("a", "b")
    assert spotter.decide(motions[0]).settings["trained_on"] == ["a", "b"]
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a model")
    with pytest.raises(MestiError, match="not a learned-spotter model"):
        LearnedSpotter(model=broken)


def test_learned_weights_and_threshold_never_see_the_test_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: every training step and every threshold choice of a fold reads only the other
    subjects' videos (watched as they happen); and changing everything about the test subject (its
    videos and its truth) leaves its fold's weights and threshold the same to the bit, while the
    folds that train on it change."""
    import mesti.spotting.learned as learned
    from mesti.spotting.learned import CHOICES, loso_models

    read: list[tuple[str, str, set[str]]] = []  # (fold's test subject, what, videos read)
    fold = [""]
    train_net, choose = learned.train_net, learned.choose_thresholds

    def spy_train(cands, targets, seed=0):  # type: ignore[no-untyped-def]
        read.append((fold[0], "weights", {c.video for c in cands}))
        return train_net(cands, targets, seed)

    def spy_choose(cands, probs, truths):  # type: ignore[no-untyped-def]
        read.append((fold[0], "threshold", {c.video for c in cands}))
        return choose(cands, probs, truths)

    monkeypatch.setattr(learned, "train_net", spy_train)
    monkeypatch.setattr(learned, "choose_thresholds", spy_choose)
    fold_of = {"v0": "s1", "v1": "s1", "v2": "s2", "v3": "s2", "v4": "s3", "v5": "s3"}

    rng = np.random.default_rng(3)
    subjects = ["s1", "s1", "s2", "s2", "s3", "s3"]
    truths = [[Interval(30 + 37 * j, 36 + 37 * j, 44 + 37 * j, "micro" if j % 2 else "macro") for j in range(i % 3, 7, 2)]
              for i in range(6)]
    motions = [_motion(f"v{i}", rng, t) for i, t in enumerate(truths)]
    original = learned.fit

    def per_fold(motions, truths, subjects, seed=0, cands=None):  # type: ignore[no-untyped-def]
        fold[0] = ({"s1", "s2", "s3"} - set(subjects)).pop()  # from here on, this fold's test subject
        return original(motions, truths, subjects, seed, cands)

    monkeypatch.setattr(learned, "fit", per_fold)
    _, _, first = loso_models(motions, truths, subjects)
    assert {(t, w) for t, w, _ in read} == {(t, w) for t in ("s1", "s2", "s3") for w in ("weights", "threshold")}
    for test, what, videos in read:
        assert test not in {fold_of[v] for v in videos}, (what, test, videos)
    other = np.random.default_rng(99)
    changed_truths = [t if s != "s3" else [Interval(200, 205, 260, "macro")] for s, t in zip(subjects, truths, strict=True)]
    changed = [m if s != "s3" else _motion(m.video, other, changed_truths[i]) for i, (s, m) in enumerate(zip(subjects, motions, strict=True))]
    _, seen, second = loso_models(changed, changed_truths, subjects)
    assert seen["s3"] == ("s1", "s2") and second["s3"].trained_on == ("s1", "s2")
    assert first["s3"].thresholds == second["s3"].thresholds and set(first["s3"].thresholds.values()) <= set(CHOICES)
    for (name, a), b in zip(first["s3"].net.state_dict().items(), second["s3"].net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    moved = [not all(torch.equal(a, b) for a, b in zip(first[s].net.state_dict().values(), second[s].net.state_dict().values(),
                                                         strict=True)) for s in ("s1", "s2")]
    assert all(moved)  # the folds that train on s3 do see the change: the check can fail


def test_each_channel_has_its_own_judge_and_an_older_model_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 20: micro candidates are judged by the micro network, macro ones by the macro one;
    a model saved by an older mesti (one network, other inputs) gets a clear message."""
    import torch

    from mesti.spotting.learned import CHANNEL_INPUT, INPUTS, ChannelNets, LearnedModel, _net

    nets = ChannelNets()
    with torch.no_grad():
        for p in nets.micro.parameters():
            p.zero_()
        for p in nets.macro.parameters():
            p.fill_(0.01)
    x = torch.ones(2, INPUTS)
    x[0, CHANNEL_INPUT], x[1, CHANNEL_INPUT] = 1.0, 0.0
    out = nets(x).squeeze(1)
    assert out[0].item() == 0.0 and out[1].item() > 0.0
    old = tmp_path / "old.pt"
    torch.save({"state": _net(27).state_dict(), "trained_on": ["a"], "inputs": 27, "hidden": 16, "threshold": 0.5}, old)
    with pytest.raises(MestiError, match="of another version"):
        LearnedModel.load(old)


def _two_channel_candidates() -> tuple[object, list[list[Interval]]]:
    """Four candidates of one video: two micro, two macro; ``flow`` spots the first of each."""
    from mesti.spotting.learned import CHANNEL_INPUT, INPUTS, SPOTTED_INPUT, Candidates

    ivs = [Interval(10, 14, 18, "micro"), Interval(40, 44, 48, "micro"),
           Interval(100, 120, 140, "macro"), Interval(200, 220, 240, "macro")]
    x = np.zeros((4, INPUTS), dtype=np.float32)
    x[:2, CHANNEL_INPUT] = 1.0
    x[[0, 2], SPOTTED_INPUT] = 1.0
    return Candidates(ivs, x, np.zeros(300), "v"), [[ivs[1], ivs[2]]]  # truth: one flow misses, one it spots


def test_each_channel_keeps_its_threshold_or_flows_decisions() -> None:
    """Issue 20: a channel whose threshold is ``None`` keeps exactly what ``flow`` spots of that
    channel; the other channel is judged by its probability."""
    from mesti.spotting.learned import kept

    c, _ = _two_channel_candidates()
    p = np.array([0.2, 0.9, 0.3, 0.8])
    onsets = lambda th: [iv.onset for iv in kept(c, p, th)]  # noqa: E731
    assert onsets({"micro": 0.5, "macro": 0.5}) == [40, 200]
    assert onsets({"micro": 0.5, "macro": None}) == [40, 100]
    assert onsets({"micro": None, "macro": 0.5}) == [10, 200]
    assert onsets({"micro": None, "macro": None}) == [10, 100]


def test_thresholds_are_chosen_per_channel_and_flow_only_where_it_is_better() -> None:
    """Issue 20: on the training videos' held-out probabilities, a channel whose perceptron ranks
    the truth first gets a threshold; one whose perceptron is wrong where ``flow`` is right keeps
    ``flow``'s decisions. The choice can go either way (both are checked)."""
    from mesti.spotting.learned import THRESHOLDS, choose_thresholds

    c, truth = _two_channel_candidates()
    chosen = choose_thresholds([c], [np.array([0.2, 0.9, 0.3, 0.8])], truth)  # micro right, macro wrong
    assert chosen["micro"] in THRESHOLDS and 0.2 <= chosen["micro"] < 0.9 and chosen["macro"] is None
    chosen = choose_thresholds([c], [np.array([0.2, 0.9, 0.8, 0.3])], truth)  # both right
    assert chosen["micro"] in THRESHOLDS and chosen["macro"] in THRESHOLDS


def test_a_model_keeps_each_channels_choice_through_save_and_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mesti.spotting.learned import ChannelNets, LearnedModel

    path = tmp_path / "m.pt"
    LearnedModel(ChannelNets(), ("a", "b"), {"micro": 0.35, "macro": None}).save(path)
    assert LearnedModel.load(path).thresholds == {"micro": 0.35, "macro": None}
