"""The factory: names, declared input sizes, native recipes, options and errors."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from mesti.errors import MestiError
from mesti.models import create_model, get_model_info, list_models, register_model


def test_list_models_filters_with_wildcards() -> None:
    assert list_models("meganet*")[0] == "meganet"
    assert set(list_models("off_*")) == {"off_apexnet", "off_apexnet_meb"}
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize(
    "name,size",
    [("meganet", (3, 224, 224)), ("vgg19", (3, 224, 224)), ("ststnet", (3, 28, 28)), ("off_apexnet", (2, 28, 28)), ("micro_attention", (1, 224, 224))],
)
def test_each_network_declares_its_input_size(name: str, size: tuple[int, int, int]) -> None:
    info = get_model_info(name)
    assert info.input_size == size
    assert info.source and info.description
    with torch.device("meta"):
        model = create_model(name, 3)
    assert model.model_info.input_size == size


def test_an_instance_reports_the_size_it_was_built_for() -> None:
    with torch.device("meta"):
        model = create_model("meganet", 5, in_chans=1, img_size=(96, 128), use_ga=False)
    assert model.model_info.input_size == (1, 96, 128)
    assert model.model_config == {"name": "meganet", "num_classes": 5, "in_chans": 1, "img_size": [96, 128], "kwargs": {"use_ga": False}}
    assert get_model_info("meganet").input_size == (3, 224, 224)  # the registry entry is untouched


def test_native_recipes_follow_peers() -> None:
    ststnet = get_model_info("ststnet").native_recipe
    assert ststnet is not None
    assert (ststnet["optimizer"], ststnet["lr"], ststnet["batch_size"], ststnet["epochs"]) == ("adam", 5e-5, 256, 500)
    assert (ststnet["loss"], ststnet["augment"]) == ("cross_entropy", "none")
    off = get_model_info("off_apexnet").native_recipe
    assert off is not None
    assert (off["optimizer"], off["lr"], off["batch_size"], off["epochs"]) == ("adam", 1e-4, 64, 3000)
    assert "[NV]" in off["notes"]
    micro = get_model_info("micro_attention").native_recipe
    assert micro is not None and micro["batch_size"] == 10 and micro["lr"] is None
    for name in ("meganet", "meganet_b2", "resnet50", "efficientnet_b0"):
        assert get_model_info(name).native_recipe is None
    # VGG19's in Table II is LEARNet's: nothing of it is public, every point open and named in the notes
    vgg = get_model_info("vgg19").native_recipe
    assert vgg is not None and "LEARNet" in vgg["notes"]
    assert all(v is None for k, v in vgg.items() if k != "notes")


@pytest.mark.parametrize("name", list_models())
def test_first_conv_and_classifier_names_point_at_the_right_layers(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name, 7)
    info = model.model_info
    for conv in info.first_conv:
        layer = model.get_submodule(conv)
        assert isinstance(layer, nn.Conv2d) and layer.in_channels == info.in_chans
    (head,) = info.classifier
    layer = model.get_submodule(head)
    assert isinstance(layer, nn.Linear) and layer.out_features == 7


@pytest.mark.parametrize(
    "name,cls,first",
    [("vgg19", torchvision.models.VGG, "features.0"), ("resnet50", torchvision.models.ResNet, "conv1"),
     ("efficientnet_b0", torchvision.models.EfficientNet, "features.0.0")],
)
def test_baselines_are_torchvision_models_with_adapted_ends(name: str, cls: type, first: str) -> None:
    with torch.device("meta"):
        model = create_model(name, 4, in_chans=2)
    assert model.get_submodule(first).in_channels == 2
    assert isinstance(model, cls)


def test_bad_requests_are_one_line_errors() -> None:
    with pytest.raises(MestiError, match="unknown model 'megnet'; choose one of .*meganet"):
        create_model("megnet", 3)
    with pytest.raises(MestiError, match="num_classes must be a positive int"):
        create_model("ststnet", 0)
    with pytest.raises(MestiError, match="unknown option"):
        create_model("vgg19", 3, dropout=0.1)
    with pytest.raises(MestiError, match="geometry must be one of"):
        create_model("ststnet", 3, geometry="keras")
    with pytest.raises(MestiError, match="img_size"):
        create_model("ststnet", 3, img_size=(28, 28, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        register_model(input_size=(3, 8, 8), source="", description="", name="meganet")(lambda **kw: nn.Identity())
