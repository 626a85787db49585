"""Every registered network trains for one step on CPU at its input size.

VGG19, ResNet-50 and EfficientNet-B0 take their backward pass at 64 x 64 instead of 224:
each is fully convolutional up to an adaptive pool, so the same layers run, about 12x
cheaper on a 2-core CPU; a forward pass at 224 checks their native size.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mesti.models import create_model, list_models

SMALL_FOR_BACKWARD = {"vgg19": 64, "resnet50": 64, "efficientnet_b0": 64}
ALL_MODELS = list_models()


def test_every_expected_network_is_registered() -> None:
    expected = {
        "meganet", "meganet_b2", "meganet_b4", "meganet_res", "meganet_attn", "meganet_res_attn", "meganet_ga",
        "vgg19", "resnet50", "efficientnet_b0", "ststnet", "off_apexnet", "off_apexnet_meb", "micro_attention",
    }
    assert set(ALL_MODELS) == expected


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_and_backward(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, 3, img_size=SMALL_FOR_BACKWARD.get(name)).train()
    c, h, w = model.model_info.input_size
    x = torch.randn(2, c, h, w)
    logits = model(x)
    assert logits.shape == (2, 3)
    F.cross_entropy(logits, torch.tensor([0, 2])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
    first = model.get_submodule(model.model_info.first_conv[0]) if model.model_info.first_conv else None
    for module in filter(None, [first, model.get_submodule(model.model_info.classifier[0])]):
        assert module.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(SMALL_FOR_BACKWARD))
def test_baselines_run_at_their_native_224(name: str) -> None:
    model = create_model(name, 5).eval()
    assert model.model_info.input_size == (3, 224, 224)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 5)
