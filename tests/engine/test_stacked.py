"""The stacked engine (issue 7): many folds per step, each trained as it would be alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from mesti.errors import MestiError
from mesti.protocols import LeaveOneSubjectOut
from mesti.protocols.splits import Fold, Protocol
from mesti.engine.config import TrainConfig
from mesti.engine.sequential import train_fold
from mesti.studies.run import Experiment, run_experiment
from mesti.engine.folds import FoldResult, fit_input
from mesti.studies.grid import GridSpec
from mesti.engine.samples import SampleSet
from mesti.engine.stacked import (
    StackedOptions,
    StackSchedule,
    plan_schedule,
    resolve_engine,
    run_stacked,
    sequential_steps,
    train_group,
)
from mesti.utils.hooks import Functions
from tests.studies.image_tree import image_folder
from tests.engine.toys import toy_samples


def noisy_net() -> nn.Module:
    """BatchNorm (running stats), dropout and channel dropout: everything that makes folds differ."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout2d(0.1),
                         nn.AdaptiveAvgPool2d((4, 4)), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, 3))


def loso(samples: SampleSet) -> list[Fold]:
    return LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)


def assert_same_fold(a: FoldResult, b: FoldResult, atol: float = 1e-4) -> None:
    assert (a.name, a.seed, a.test_index, a.stopped_epoch) == (b.name, b.seed, b.test_index, b.stopped_epoch)
    assert a.norm == b.norm
    assert a.history.keys() == b.history.keys() and a.history["epoch"] == b.history["epoch"]
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-4, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(a.probs, b.probs, atol=atol)


def test_schedule_counts_the_steps_the_sequential_engine_takes() -> None:
    assert [sequential_steps(n, 32) for n in (31, 32, 33, 34, 64, 65, 435)] == [1, 1, 1, 2, 2, 2, 14]
    # the sequential engine's steps and mean batch on the median fold: 436 = 13 x 32 + 20 -> 14 x 31
    assert StackSchedule.for_sizes([436, 420, 441], 32) == StackSchedule(31, 14)
    assert StackSchedule.for_sizes([33, 33], 32) == StackSchedule(32, 1)  # a last batch of one is skipped there too
    assert StackSchedule.for_sizes([18, 18], 32) == StackSchedule(18, 1)  # one permutation per epoch, as sequential
    with pytest.raises(MestiError, match="at least 2"):
        StackSchedule.for_sizes([1, 40], 32)
    assert resolve_engine("auto", "cpu") == "sequential" and resolve_engine("stacked", "cpu") == "stacked"
    with pytest.raises(MestiError, match="unknown engine"):
        resolve_engine("fast", "cpu")


def meganet_32() -> nn.Module:
    from mesti.models import create_model

    return create_model("meganet", num_classes=3, img_size=32)


@pytest.mark.parametrize(("build", "val_fraction", "epochs", "crop"),
                         [(noisy_net, 0.0, 6, 1.0), (noisy_net, 0.25, 6, 1.0), (meganet_32, 0.0, 2, 1.0),
                          (noisy_net, 0.0, 3, 224 / 240)])
def test_a_group_of_one_reproduces_train_fold(build: Callable[[], nn.Module], val_fraction: float, epochs: int,
                                              crop: float) -> None:
    # Every training set (36 samples) is a multiple of the batch: both engines take the same
    # batches, augmentation draws and dropout masks, so only float rounding may differ.
    # MEGANet's dropout sees channels-last input (from its self-attention), whose masks torch
    # draws in memory order.
    samples = toy_samples((12, 12, 12, 12, 12) if val_fraction else (12, 12, 12, 12))
    fold = loso(samples)[0]
    cfg = TrainConfig(epochs=epochs, batch_size=12, lr=3e-3, device="cpu", seed=3, val_fraction=val_fraction, patience=2,
                      crop=crop)
    assert plan_schedule(samples, [fold], cfg) == StackSchedule(12, 3)
    size = (32, 32) if build is meganet_32 else None
    expected, _ = train_fold(samples, fold, build, cfg, input_size=size)
    got = train_group(samples, [fold], build, cfg, input_size=size).results[0]
    assert_same_fold(got, expected)
    if crop < 1:  # the crop changes training: the same fold without it ends elsewhere
        uncropped, _ = train_fold(samples, fold, build, TrainConfig(**{**cfg.to_dict(), "crop": 1.0}), input_size=size)
        assert not np.allclose(uncropped.probs, expected.probs, atol=1e-4)
    if val_fraction:
        assert "val_loss" in got.history


def test_folds_in_a_group_train_as_they_would_alone() -> None:
    samples = toy_samples((9, 12, 14, 11))  # uneven: batches span permutations, folds differ in size
    folds = loso(samples)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=3e-3, device="cpu", seed=5)
    schedule = plan_schedule(samples, folds, cfg)
    group = train_group(samples, folds, noisy_net, cfg, schedule=schedule)
    for k, fold in enumerate(folds):
        alone = train_group(samples, [fold], noisy_net, cfg, schedule=schedule).results[0]
        assert_same_fold(group.results[k], alone)
    # the checkpointed module of a fold predicts what the fold reported
    k = 2
    model, r = group.module(k), group.results[k]
    x = (samples.images[folds[k].test] - torch.tensor(r.norm["mean"]).view(1, 3, 1, 1)) / torch.tensor(r.norm["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        np.testing.assert_allclose(model(x).softmax(1).numpy(), r.probs, atol=1e-5)
    assert len({json.dumps(r.probs) for r in group.results}) == len(folds)


def test_layout_and_group_size_change_rounding_only() -> None:
    # the channels-last interleave CUDA uses by default, and groups sized by a memory budget
    samples = toy_samples((9, 12, 14))
    folds = loso(samples)
    cfg = TrainConfig(epochs=3, batch_size=8, lr=3e-3, device="cpu", seed=6)
    plain = train_group(samples, folds, noisy_net, cfg).results
    interleaved = train_group(samples, folds, noisy_net, cfg, options=StackedOptions(interleave=True)).results
    starts: list[str] = []
    tiny = run_stacked(samples, folds, noisy_net, cfg, finished=lambda f: None, record=lambda f, r, m: None,
                       options=StackedOptions(memory_fraction=1e-9),
                       hooks=Functions(fold_started=lambda name, i, n: starts.append(name),
                                       epoch_ended=lambda e, t, s: starts.append(f"epoch {e}")))
    assert starts == [x for f in folds for x in (f.name, "epoch 1", "epoch 2", "epoch 3")]  # one fold per group
    for a, b, c in zip(plain, interleaved, tiny, strict=True):
        assert_same_fold(a, b, atol=2e-3)  # other conv kernels: rounding, grown a little by training
        assert_same_fold(a, c)


class LeakyLOSO(Protocol):
    name = "leaky"

    def folds(self, labels: np.ndarray, subjects: tuple[str, ...], datasets: tuple[str, ...]) -> list[Fold]:
        out = LeaveOneSubjectOut().folds(labels, subjects, datasets)
        bad = out[1]
        return [out[0], Fold(bad.name, np.union1d(bad.train, bad.test[:1]), bad.test, bad.info), *out[2:]]


def test_leakage_guard_and_test_subjects_never_train(tmp_path: Path) -> None:
    samples = toy_samples()
    with pytest.raises(MestiError, match="in both train and test"):
        run_experiment(samples, Experiment("ststnet", LeakyLOSO(), TrainConfig(epochs=1, device="cpu"), engine="stacked"), tmp_path / "run")
    assert not list((tmp_path / "run").glob("folds/*.json"))
    # Subject 0's images are NaN and every fold tests it: one NaN in any fold's batches, norm or
    # gradient would make that fold's loss and weights NaN.
    images = samples.images.clone()
    mask = np.asarray(samples.subjects) == "sub00"
    images[mask] = float("nan")
    poisoned = SampleSet(images, samples.labels, samples.subjects, samples.datasets, samples.clip_ids, samples.class_names)
    idx = np.arange(len(samples))
    s = np.asarray(samples.subjects)
    test = idx[mask]
    folds = [Fold("a", idx[(s == "sub01") | (s == "sub02")], test), Fold("b", idx[s != "sub00"], test),
             Fold("c", idx[(s == "sub02") | (s == "sub03")], np.concatenate([test, idx[s == "sub01"]]))]
    group = train_group(poisoned, folds, noisy_net, TrainConfig(epochs=2, batch_size=8, device="cpu"))
    for r in group.results:
        assert np.isfinite(r.history["train_loss"]).all() and np.isfinite(r.norm["mean"]).all()
    assert all(bool(torch.isfinite(t).all()) for t in group.params.values())
    assert np.isfinite(group.results[2].probs[len(test):]).all()  # sub01, tested by c only, predicted from finite weights


def test_stacked_run_resumes_at_group_level(tmp_path: Path) -> None:
    samples = toy_samples()
    cfg = TrainConfig(epochs=2, batch_size=8, device="cpu", seed=4)
    opts = StackedOptions(folds_per_group=2)
    full = run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), cfg, engine="stacked", stacked=opts), tmp_path / "full")

    class Crash(Exception):
        pass

    def crash_at_second_group(name: str, i: int, n: int) -> None:
        if i == 2:
            raise Crash

    with pytest.raises(Crash):
        run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), cfg, engine="stacked", stacked=opts), tmp_path / "part", hooks=Functions(fold_started=crash_at_second_group))
    written = sorted((tmp_path / "part" / "folds").glob("*.json"))
    assert len(written) == 2 and not (tmp_path / "part" / "metrics.json").exists()
    assert json.loads(written[0].read_text())["engine"] == "stacked"
    epochs: list[int] = []
    resumed = run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), cfg, engine="stacked", stacked=opts), tmp_path / "part",
                             hooks=Functions(epoch_ended=lambda e, t, s: epochs.append(e)))
    assert epochs == [1, 2]  # one group, the two unfinished folds
    assert resumed == full
    assert (tmp_path / "part" / "predictions.csv").read_text() == (tmp_path / "full" / "predictions.csv").read_text()
    config = yaml.safe_load((tmp_path / "part" / "config.yaml").read_text())
    assert config["engine"] == {"name": "stacked", "schedule": {"batch_size": 7, "steps_per_epoch": 5}}
    with pytest.raises(MestiError, match="another configuration"):  # switching engine mid-run is refused
        run_experiment(samples, Experiment("ststnet", LeaveOneSubjectOut(), cfg, engine="sequential"), tmp_path / "part")


def test_metrics_of_both_engines_agree_on_an_easy_problem() -> None:
    samples = toy_samples((10, 11, 12, 13))
    folds = loso(samples)
    acc: dict[str, list[float]] = {"sequential": [], "stacked": []}
    for seed in range(3):
        cfg = TrainConfig(epochs=8, batch_size=8, lr=3e-3, device="cpu", seed=seed)
        seq = [train_fold(samples, f, noisy_net, cfg)[0] for f in folds]
        stk = run_stacked(samples, folds, noisy_net, cfg, finished=lambda f: None, record=lambda f, r, m: None)
        for name, results in (("sequential", seq), ("stacked", stk)):
            truth = samples.labels.numpy()[[i for r in results for i in r.test_index]]
            acc[name].append(float(np.mean(np.array([p for r in results for p in r.predictions]) == truth)))
    assert min(acc["sequential"]) > 0.85 and min(acc["stacked"]) > 0.85, acc
    assert abs(np.mean(acc["sequential"]) - np.mean(acc["stacked"])) < 0.1, acc


def test_random_ops_it_cannot_split_per_fold_are_refused() -> None:
    class Jitter(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 0.1 * torch.randn_like(x) if self.training else x

    def net() -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 4, 3), Jitter(), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 14 * 14, 3))

    samples = toy_samples((6, 6))
    with pytest.raises(MestiError, match="--engine sequential"):
        train_group(samples, loso(samples), net, TrainConfig(epochs=1, batch_size=4, device="cpu"))


def test_grid_and_cli_take_the_engine(tmp_path: Path) -> None:
    base = "datasets: [{name: casme2, root: x}]\nmodalities: [mesti]\nmodels: [ststnet]\nprotocols: [loso]\n"
    (tmp_path / "g.yaml").write_text(base + "engine: stacked\nfolds_per_group: 4\n")
    spec = GridSpec.from_yaml(tmp_path / "g.yaml")
    assert (spec.engine, spec.folds_per_group) == ("stacked", 4)
    (tmp_path / "g.yaml").write_text(base + "engine: turbo\n")
    with pytest.raises(MestiError, match="unknown engine"):
        GridSpec.from_yaml(tmp_path / "g.yaml")
    from typer.testing import CliRunner

    from mesti.cli.main import app

    res = CliRunner().invoke(app, ["loso", "--dataset", "casme2", "--root", str(tmp_path), "--modality", "mesti",
                                   "--engine", "turbo", "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "unknown engine" in res.stderr
    assert not (tmp_path / "run").exists()


def test_cli_and_grid_run_the_stacked_engine(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mesti.cli.main import app
    from mesti.studies.grid import run_grid

    manifest = image_folder(tmp_path / "images")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["loso", "--dataset", "folder", "--root", str(tmp_path / "images"), "--manifest",
                                   str(manifest), "--model", "ststnet", "--epochs", "2", "--device", "cpu",
                                   "--engine", "stacked", "--folds-per-group", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output + str(res.exception)
    assert yaml.safe_load((out / "config.yaml").read_text())["engine"]["name"] == "stacked"
    folds = sorted((out / "folds").glob("*.json"))
    assert len(folds) == 3 and all(json.loads(p.read_text())["engine"] == "stacked" for p in folds)
    grid = {"datasets": [{"name": "images", "root": str(tmp_path / "images"), "manifest": str(manifest)}],
            "modalities": ["images"], "models": ["ststnet"], "protocols": ["loso"],
            "training": {"epochs": 1, "device": "cpu"}, "engine": "stacked", "folds_per_group": 3}
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(grid))
    rows = run_grid(GridSpec.from_yaml(tmp_path / "grid.yaml"), tmp_path / "grid")
    config = yaml.safe_load((tmp_path / "grid" / rows[0]["run_dir"] / "config.yaml").read_text())
    assert config["engine"]["name"] == "stacked" and rows[0]["n"] == 18


def test_fit_input_is_applied_once_per_group() -> None:
    # a model with its own input size trains from samples of another size, as in train_fold
    samples = toy_samples((6, 6, 6), size=12)
    folds = loso(samples)
    cfg = TrainConfig(epochs=1, batch_size=6, device="cpu")
    group = train_group(samples, folds, noisy_net, cfg, input_size=(16, 16))
    alone, _ = train_fold(samples, folds[0], noisy_net, cfg, input_size=(16, 16))
    assert fit_input(samples.images, (16, 16), None).shape[-1] == 16
    assert_same_fold(group.results[0], alone)


def test_a_group_that_runs_out_of_memory_is_split_and_trains_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # A device that holds two folds' training but not more: the group runs out of memory in
    # its second epoch, the run halves the group and trains on; nothing of the failed group
    # is recorded, and every fold ends as it would in groups of two from the start.
    import mesti.engine.stacked.run as stacked

    samples = toy_samples((6, 7, 8, 9, 10))
    folds = loso(samples)
    cfg = TrainConfig(epochs=2, batch_size=6, device="cpu", seed=3)
    real_train_group = stacked.train_group
    tried: list[int] = []

    def limited(samples: SampleSet, group: list[Fold], *args: object, limit: int = 2, **kwargs: object) -> stacked.StackedGroup:
        tried.append(len(group))

        def on_epoch(epoch: int, total: int, stats: dict[str, float]) -> None:
            if epoch == 2 and len(group) > limit:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        return real_train_group(samples, group, *args, **{**kwargs, "hooks": Functions(epoch_ended=on_epoch)})  # type: ignore[arg-type]

    monkeypatch.setattr(stacked, "train_group", limited)
    recorded: list[str] = []
    with pytest.warns(RuntimeWarning, match="5 folds at once ran out of memory on cpu; retrying with 2"):
        split = run_stacked(samples, folds, noisy_net, cfg, finished=lambda f: None,
                            record=lambda f, r, m: recorded.append(f.name), options=StackedOptions(folds_per_group=5))
    assert tried == [5, 2, 2, 1]
    assert recorded == [f.name for f in folds]  # each fold once, in protocol order
    monkeypatch.setattr(stacked, "train_group", real_train_group)
    pairs = run_stacked(samples, folds, noisy_net, cfg, finished=lambda f: None, record=lambda f, r, m: None,
                        options=StackedOptions(folds_per_group=2))
    for a, b in zip(split, pairs, strict=True):
        assert_same_fold(a, b)

    monkeypatch.setattr(stacked, "train_group", partial(limited, limit=0))  # not even one fold fits
    alone = f"fold {folds[0].name}.*does not fit.*--engine sequential"
    with pytest.warns(RuntimeWarning), pytest.raises(MestiError, match=alone):
        run_stacked(samples, folds[:2], noisy_net, cfg, finished=lambda f: None, record=lambda f, r, m: None,
                    options=StackedOptions(folds_per_group=2))


def test_bf16_autocast_path_under_vmap(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CUDA step runs under bf16 autocast; CPU autocast takes the same code (vmap over
    # bf16 convolutions, BatchNorm, SDPA and dropout masks drawn in the dtype the probe saw)
    # where no GPU is at hand. Weights stay float32; training and predictions stay close to float32.
    import mesti.engine.stacked.group as stacked
    from mesti.models import create_model

    samples = toy_samples((6, 6, 6), size=32)
    folds = loso(samples)
    cfg = TrainConfig(epochs=2, batch_size=6, device="cpu", seed=1)

    def build() -> nn.Module:
        return create_model("meganet", num_classes=3, in_chans=3, img_size=(32, 32), drop_rate=0.2)

    fp32 = train_group(samples, folds, build, cfg).results
    casts: list[torch.dtype] = []

    def bf16_autocast(device: torch.device, cfg: TrainConfig) -> Callable[[], torch.autocast]:
        def autocast() -> torch.autocast:
            casts.append(torch.bfloat16)
            return torch.autocast("cpu", dtype=torch.bfloat16)

        return autocast

    monkeypatch.setattr(stacked, "autocast_for", bf16_autocast)
    for interleave in (False, True):
        group = train_group(samples, folds, build, cfg, options=StackedOptions(interleave=interleave))
        assert all(t.dtype == torch.float32 for t in group.params.values())
        for a, b in zip(fp32, group.results, strict=True):
            np.testing.assert_allclose(a.history["train_loss"], b.history["train_loss"], rtol=0.05)
            np.testing.assert_allclose(a.probs, b.probs, atol=0.05)
    assert casts  # the bf16 path ran


def test_a_non_finite_loss_stops_the_group_naming_fold_and_epoch() -> None:
    from tests.engine.test_engine import Diverges

    samples = toy_samples((12, 12, 12, 12))  # the schedule is 3 steps of 12, as in the sequential test
    folds = loso(samples)
    cfg = TrainConfig(epochs=4, batch_size=12, device="cpu", flip=False, rotations=[0.0])
    assert plan_schedule(samples, folds, cfg) == StackSchedule(12, 3)
    recorded: list[str] = []
    with pytest.raises(MestiError, match=rf"fold {folds[0].name}: the training loss is nan in epoch 2"):
        run_stacked(samples, folds, Diverges, cfg, finished=lambda f: None, record=lambda f, r, m: recorded.append(f.name),
                    options=StackedOptions(folds_per_group=2))
    assert recorded == []  # the failing group records nothing
    # only the fold that trains on non-finite images is named, not its group's first
    images = samples.images.clone()
    images[np.asarray(samples.subjects) == "sub00"] = float("nan")
    poisoned = SampleSet(images, samples.labels, samples.subjects, samples.datasets, samples.clip_ids, samples.class_names)
    assert [str(s) for s in folds[0].info["test_subjects"]] == ["toy/sub00"]
    with pytest.raises(MestiError, match=rf"fold {folds[1].name}: the training loss is nan in epoch 1"):
        train_group(poisoned, folds[:2], noisy_net, cfg)
