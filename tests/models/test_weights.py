"""``pretrained=PATH``: a local state dict, strict except for the input conv and the classifier."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mesti.errors import MestiError
from mesti.models import adapt_input_conv, create_model


@pytest.mark.parametrize("in_chans", [1, 6])
def test_adapted_conv_answers_an_all_equal_input_as_before(in_chans: int) -> None:
    torch.manual_seed(0)
    weight = torch.randn(8, 3, 3, 3)
    adapted = adapt_input_conv(in_chans, weight)
    assert adapted.shape == (8, in_chans, 3, 3)
    grey = torch.rand(1, 1, 9, 9)
    torch.testing.assert_close(F.conv2d(grey.expand(1, in_chans, 9, 9), adapted), F.conv2d(grey.expand(1, 3, 9, 9), weight))
    if in_chans == 1:
        torch.testing.assert_close(adapted, weight.sum(1, keepdim=True))


def test_other_channel_counts_repeat_the_rgb_filters_and_rescale() -> None:
    weight = torch.randn(8, 3, 3, 3)
    torch.testing.assert_close(adapt_input_conv(2, weight), weight[:, :2] * 1.5)
    torch.testing.assert_close(adapt_input_conv(4, weight), torch.cat([weight, weight[:, :1]], 1) * 0.75)
    assert adapt_input_conv(3, weight) is weight


def test_a_resnet50_state_dict_loads_into_a_grayscale_model_with_other_classes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = create_model("resnet50", 10).state_dict()
    path = tmp_path / "resnet50_imagenet_like.pth"
    torch.save(source, path)
    model = create_model("resnet50", 3, in_chans=1, pretrained=path)
    loaded = model.state_dict()
    torch.testing.assert_close(loaded["conv1.weight"], source["conv1.weight"].sum(1, keepdim=True))
    assert loaded["fc.weight"].shape == (3, 2048)  # fresh classifier for 3 classes
    for key, value in source.items():
        if key not in ("conv1.weight", "fc.weight", "fc.bias"):
            assert torch.equal(loaded[key], value), key


def test_same_classes_keep_the_pretrained_classifier(tmp_path: Path) -> None:
    source = create_model("meganet", 5)
    path = tmp_path / "meganet.pth"
    torch.save(source.state_dict(), path)
    model = create_model("meganet", 5, pretrained=path)
    assert torch.equal(model.fc.weight, source.fc.weight)


def test_pretrained_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ststnet.pth"
    torch.save(create_model("ststnet", 3).state_dict(), path)
    with pytest.raises(MestiError, match=r"does not fit the meganet model: \d+ weights missing .*another architecture"):
        create_model("meganet", 3, pretrained=path)
    with pytest.raises(MestiError, match="no such file"):
        create_model("meganet", 3, pretrained=tmp_path / "absent.pth")
