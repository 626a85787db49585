"""Spotting methods on synthetic long videos, and the learned method's leave-one-subject-out."""

from __future__ import annotations

import numpy as np
import pytest

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
