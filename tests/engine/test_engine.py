from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mesti.errors import MestiError
from mesti.protocols import LeaveOneSubjectOut
from mesti.engine.augment import augment_batch, draw_augment
from mesti.engine.config import TrainConfig
from mesti.engine.sequential import train_fold
from mesti.engine.folds import fold_seed
from mesti.engine.losses import FocalLoss
from mesti.engine.samples import SampleSet
from mesti.utils.hooks import Functions
from tests.engine import toys


def toy_samples(n_subjects: int = 4, per_subject: int = 12) -> SampleSet:
    return toys.toy_samples(sizes=(per_subject,) * n_subjects)


def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d((4, 4)),
                         nn.Flatten(), nn.Linear(128, 3))


def test_focal_loss_equals_cross_entropy_at_gamma_zero_and_downweights_easy() -> None:
    logits = torch.randn(16, 3)
    target = torch.randint(0, 3, (16,))
    ce = nn.functional.cross_entropy(logits, target)
    torch.testing.assert_close(FocalLoss(0.0)(logits, target), ce)
    assert FocalLoss(2.0)(logits, target) < ce
    easy = torch.tensor([[10.0, 0.0, 0.0]])
    assert FocalLoss(2.0)(easy, torch.tensor([0])) < 1e-6


def test_augmentation_flip_is_exact_and_reproducible() -> None:
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    out = augment_batch(x, g, flip=True, rotations=[0.0])
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.allclose(out[i], x[i].flip(-1))
    a = augment_batch(x, torch.Generator().manual_seed(5), rotations=[-10.0, 10.0])
    b = augment_batch(x, torch.Generator().manual_seed(5), rotations=[-10.0, 10.0])
    assert torch.equal(a, b)
    assert torch.equal(augment_batch(x, g, flip=False, rotations=[0.0]), x)


def test_a_random_crop_is_applied_and_drawn_after_flip_and_rotation() -> None:
    # a 12 x 12 crop of a 16 x 16 image (Micro-Attention's 224 of 240), resampled to 16 x 16
    x = torch.arange(16 * 16, dtype=torch.float32).view(1, 1, 16, 16).repeat(64, 1, 1, 1)
    out = augment_batch(x, torch.Generator().manual_seed(0), flip=False, rotations=[0.0], crop=0.75)
    assert not torch.equal(out, x)
    # a crop is a zoom: neighbouring pixels differ by 0.75 of a pixel step (16 along a column)
    assert torch.allclose(out[:, 0, 8, 9] - out[:, 0, 8, 8], torch.full((64,), 0.75), atol=1e-4)
    assert torch.allclose(out[:, 0, 9, 8] - out[:, 0, 8, 8], torch.full((64,), 12.0), atol=1e-3)
    # the window's place is random and stays inside the image (16 x 0.125 pixels either way)
    centre = (out[:, 0, 7:9, 7:9].mean(dim=(1, 2)) - x[0, 0, 7:9, 7:9].mean())
    assert centre.std() > 1.0
    assert out.min() >= x.min() and out.max() <= x.max()
    # the crop is drawn last: flips and rotations draw the same numbers with and without it
    a = draw_augment(8, torch.Generator().manual_seed(1), True, [-5.0, 5.0])
    b = draw_augment(8, torch.Generator().manual_seed(1), True, [-5.0, 5.0], crop=0.9)
    assert a is not None and b is not None
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[2], b[2])
    assert draw_augment(8, torch.Generator(), False, [0.0]) is None


def test_train_fold_learns_and_is_deterministic() -> None:
    samples = toy_samples()
    fold = LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)[0]
    cfg = TrainConfig(epochs=15, batch_size=8, lr=3e-3, flip=False, rotations=[0.0], device="cpu", seed=1)
    r1, _ = train_fold(samples, fold, small_net, cfg)
    r2, _ = train_fold(samples, fold, small_net, cfg)
    assert r1.probs == r2.probs and r1.history == r2.history
    assert r1.seed == fold_seed(1, fold.name) and r1.seed != fold_seed(2, fold.name)
    acc = np.mean(np.array(r1.predictions) == samples.labels.numpy()[fold.test])
    assert acc > 0.8
    assert r1.history["train_loss"][-1] < r1.history["train_loss"][0]
    assert set(r1.test_index) == set(fold.test.tolist())


def test_early_stopping_uses_training_subjects_only() -> None:
    samples = toy_samples(n_subjects=5)
    fold = LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)[0]
    cfg = TrainConfig(epochs=6, batch_size=8, val_fraction=0.25, patience=2, device="cpu", flip=False, rotations=[0.0])
    seen: list[tuple[bool, torch.Tensor]] = []
    images = samples.images.clone()
    images[fold.test] = 7777.0  # the test subject's images are flat: any flat training input is a leak
    marked = SampleSet(images, samples.labels, samples.subjects, samples.datasets, samples.clip_ids, samples.class_names)

    class Spy(nn.Module):  # records every input the network sees, in training and in evaluation
        def __init__(self) -> None:
            super().__init__()
            self.net = small_net()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append((self.training, x.detach().clone()))
            return self.net(x)

    result, _ = train_fold(marked, fold, Spy, cfg)
    assert "val_loss" in result.history and len(result.history["val_loss"]) == len(result.history["epoch"])
    trained = torch.cat([x for training, x in seen if training])
    assert trained.shape[0] > 0
    assert bool((trained.flatten(1).std(dim=1) > 1e-3).all())
    # evaluation: validation reads training subjects only; the flat test subject is read once, last, for its predictions
    flat = torch.cat([(x.flatten(2).std(dim=2) <= 1e-3).all(dim=1) for training, x in seen if not training])
    n_test = len(fold.test)
    assert int(flat.sum()) == n_test and bool(flat[-n_test:].all())
    assert int((~flat).sum()) >= len(result.history["epoch"])  # a validation pass per epoch
    # validation took whole training subjects: fewer samples per epoch than the training side
    assert trained.shape[0] // len(result.history["epoch"]) < len(fold.train)


def test_config_validation() -> None:
    with pytest.raises(MestiError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(MestiError, match="unknown option"):
        TrainConfig.from_dict({"epoch": 3})
    native = TrainConfig().with_native_recipe({"optimizer": "adam", "lr": 5e-5, "batch_size": 256, "epochs": 500,
                                               "loss": "cross_entropy", "augment": False}, "ststnet")
    assert (native.lr, native.batch_size, native.epochs, native.loss, native.flip) == (5e-5, 256, 500, "cross_entropy", False)
    with pytest.raises(MestiError, match="no published recipe"):
        TrainConfig().with_native_recipe(None, "meganet")
    from mesti.models import get_model_info

    micro = TrainConfig().with_native_recipe(dict(get_model_info("micro_attention").native_recipe or {}), "micro_attention")
    assert (micro.crop, micro.flip, micro.rotations, micro.batch_size, micro.loss) == (224 / 240, False, [0.0], 10,
                                                                                       "cross_entropy")
    with pytest.raises(MestiError, match="not available here"):
        TrainConfig().with_native_recipe({"augment": "colour jitter"}, "somenet")
    with pytest.raises(MestiError, match="training.crop"):
        TrainConfig(crop=1.5)
    ststnet = TrainConfig().with_native_recipe(dict(get_model_info("ststnet").native_recipe or {}), "ststnet")
    assert (ststnet.lr, ststnet.batch_size, ststnet.epochs, ststnet.flip) == (5e-5, 256, 500, False)


class Diverges(nn.Module):
    """small_net whose training forward turns NaN from its fifth call on: with 3 steps per
    epoch, the loss is finite in epoch 1 and NaN in epoch 2."""

    def __init__(self) -> None:
        super().__init__()
        self.net = small_net()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.training:
            self.calls += 1
            if self.calls > 4:
                out = out * float("nan")
        return out


def test_a_non_finite_loss_stops_the_fold_naming_fold_and_epoch() -> None:
    samples = toy_samples()  # 36 training samples, batches of 12: 3 steps per epoch
    fold = LeaveOneSubjectOut().folds(samples.labels.numpy(), samples.subjects, samples.datasets)[1]
    cfg = TrainConfig(epochs=4, batch_size=12, device="cpu", flip=False, rotations=[0.0])
    epochs: list[int] = []
    with pytest.raises(MestiError, match=rf"fold {fold.name}: the training loss is nan in epoch 2"):
        train_fold(samples, fold, Diverges, cfg, hooks=Functions(epoch_ended=lambda e, t, s: epochs.append(e)))
    assert epochs == [1]  # epoch 1 was finite and reported; nothing after the NaN
