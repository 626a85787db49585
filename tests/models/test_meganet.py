"""MEGANet's layout and its ablations, with parameter counts worked out from PAPER.md section 3."""

from __future__ import annotations

import re

import pytest
import torch

from mesti.errors import MestiError
from mesti.models import MEGANet, create_model, num_params


def conv(cin: int, cout: int, k: int, bias: bool = False) -> int:
    return cin * cout * k * k + (cout if bias else 0)


def bn(c: int) -> int:
    return 2 * c


def residual_part(cin: int, cout: int) -> int:
    """3x3 conv-BN, 3x3 conv-BN (no biases before BN)."""
    return conv(cin, cout, 3) + bn(cout) + conv(cout, cout, 3) + bn(cout)


def projection(cin: int, cout: int, stride: int) -> int:
    return 0 if cin == cout and stride == 1 else conv(cin, cout, 1) + bn(cout)


def attention(c: int) -> int:
    """Query and key C -> C/8, value C -> C (1x1 convs with bias), gamma."""
    return 2 * conv(c, c // 8, 1, bias=True) + conv(c, c, 1, bias=True) + 1


GA = conv(3, 1, 3, bias=True)  # 28
STEM = conv(3, 64, 7) + bn(64)
LAYOUT = [(64, 64, 1), (64, 128, 2), (128, 256, 2)]


def expected_meganet(num_classes: int = 3) -> int:
    blocks = sum(residual_part(i, o) + projection(i, o, s) + attention(o) for i, o, s in LAYOUT)
    return GA + STEM + blocks + 256 * num_classes + num_classes


def test_parameter_count_follows_the_paper_layout() -> None:
    model = create_model("meganet", 3)
    assert num_params(model) == expected_meganet(3) == 1_341_586
    assert num_params(create_model("meganet", 5)) == expected_meganet(5)


def test_feature_maps_run_at_56_28_14_and_attention_sees_3136_positions() -> None:
    model = MEGANet(3).eval()
    seen: list[tuple[int, ...]] = []
    for block in model.blocks:
        block.attention.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 224, 224))
    assert seen == [(1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14)]
    assert logits.shape == (1, 3)


def test_forward_features_docstring_states_the_real_output_stride() -> None:
    stride = int(re.search(r"H/(\d+) x W/(\d+)", MEGANet.forward_features.__doc__ or "")[1])  # type: ignore[index]
    with torch.no_grad():
        features = MEGANet(3).eval().forward_features(torch.randn(1, 3, 224, 224))
    assert features.shape == (1, 256, 224 // stride, 224 // stride)


def params_by_name(model: torch.nn.Module) -> dict[str, int]:
    return {n: p.numel() for n, p in model.named_parameters()}


def test_ga_ablation_removes_exactly_the_ga_conv() -> None:
    full, ablated = params_by_name(MEGANet(3)), params_by_name(MEGANet(3, use_ga=False))
    removed = set(full) - set(ablated)
    assert removed == {"ga.conv.weight", "ga.conv.bias"}
    assert sum(full.values()) - sum(ablated.values()) == GA == 28
    assert num_params(MEGANet(3)) - num_params(MEGANet(3, ga_bias=False)) == 1


def test_attention_ablation_removes_exactly_query_key_value_and_gamma() -> None:
    full, ablated = params_by_name(MEGANet(3)), params_by_name(MEGANet(3, use_attention=False))
    removed = set(full) - set(ablated)
    assert removed and all(".attention." in n for n in removed)
    assert set(ablated) <= set(full)
    assert sum(full.values()) - sum(ablated.values()) == sum(attention(o) for _, o, _ in LAYOUT)


def test_residual_ablation_removes_the_two_convs_and_keeps_the_shortcut() -> None:
    full, ablated = MEGANet(3), MEGANet(3, use_residual=False)
    diff = num_params(full) - num_params(ablated)
    assert diff == sum(residual_part(i, o) for i, o, _ in LAYOUT)
    # The projection that changes width and stride stays, so block widths are unchanged.
    assert isinstance(ablated.blocks[0].residual, torch.nn.Identity)
    assert ablated.blocks[1].residual[0].weight.shape == full.blocks[1].residual.shortcut[0].weight.shape
    assert ablated(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_block_count_ablation_adds_or_removes_whole_blocks() -> None:
    b2, b3, b4 = (num_params(MEGANet(3, num_blocks=n)) for n in (2, 3, 4))
    block3 = residual_part(128, 256) + projection(128, 256, 2) + attention(256)
    block4 = residual_part(256, 512) + projection(256, 512, 2) + attention(512)
    fc = lambda width: width * 3 + 3
    assert b3 - b2 == block3 + fc(256) - fc(128)
    assert b4 - b3 == block4 + fc(512) - fc(256)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("meganet_b2", {"num_blocks": 2}),
        ("meganet_b4", {"num_blocks": 4}),
        ("meganet_res", {"use_ga": False, "use_attention": False}),
        ("meganet_attn", {"use_ga": False, "use_residual": False}),
        ("meganet_res_attn", {"use_ga": False}),
        ("meganet_ga", {"use_residual": False, "use_attention": False}),
    ],
)
def test_registered_variants_are_the_ablations(name: str, kwargs: dict[str, object]) -> None:
    with torch.device("meta"):
        variant, direct = create_model(name, 3), MEGANet(3, **kwargs)  # type: ignore[arg-type]
    assert params_by_name(variant).keys() == params_by_name(direct).keys()
    assert num_params(variant) == num_params(direct)


def test_open_points_are_constructor_arguments() -> None:
    model = MEGANet(
        5, 1, widths=(32, 64, 96), strides=(1, 1, 2), drop_rate=0.1, attention_residual=False,
        attn_scale=None, attn_gamma_init=0.25, attn_reduction=4, ga_bias=False,
    )
    block = model.blocks[2]
    assert block.drop.p == 0.1
    assert block.attention.residual is False and block.attention.gamma.item() == 0.25
    assert block.attention.query.out_channels == 96 // 4
    assert block.attention.scale == pytest.approx((96 // 4) ** -0.5)
    assert model.ga.conv.in_channels == 1 and model.ga.conv.bias is None
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 5)


def test_padding_query_and_key_changes_nothing() -> None:
    torch.manual_seed(0)
    padded = MEGANet(3, attn_pad_qk=True).eval()
    plain = MEGANet(3, attn_pad_qk=False).eval()
    with torch.no_grad():
        for p in padded.parameters():
            p.uniform_(-0.2, 0.2)  # gamma != 0, so attention contributes
        plain.load_state_dict(padded.state_dict())
        x = torch.randn(2, 3, 96, 96)
        torch.testing.assert_close(padded(x), plain(x), rtol=1e-4, atol=1e-5)


def test_bad_layouts_are_clear_errors() -> None:
    with pytest.raises(MestiError, match="2 blocks need 2 widths and strides"):
        create_model("meganet", 3, widths=(64, 128), strides=(1, 2, 2))
    with pytest.raises(MestiError, match="3 blocks need 3 widths"):
        create_model("meganet", 3, num_blocks=3, widths=(64, 128))
    with pytest.raises(MestiError, match="give widths for more than 4 blocks"):
        create_model("meganet", 3, num_blocks=5)
    with pytest.raises(MestiError, match="unknown option"):
        create_model("meganet", 3, use_gaa=False)


def test_one_config_object_or_its_keywords_build_the_same_network() -> None:
    from mesti.models.meganet import MEGANetConfig

    config = MEGANetConfig(num_blocks=2, use_ga=False, drop_rate=0.2)
    with torch.device("meta"):
        whole, by_name = MEGANet(3, 3, config), MEGANet(3, num_blocks=2, use_ga=False, drop_rate=0.2)
        both = MEGANet(3, 3, config, drop_rate=0.4)  # a keyword replaces the config's field
    assert params_by_name(whole).keys() == params_by_name(by_name).keys() and whole.config == by_name.config
    assert both.blocks[0].drop.p == 0.4 and both.config.num_blocks == 2
    with pytest.raises(MestiError, match="unknown option 'use_gaa'; it takes attention_residual, .*use_ga, use_residual"):
        create_model("meganet", 3, use_gaa=False)
