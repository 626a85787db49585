"""Published MER networks: layouts and parameter counts from PEERS.md sections 1-3 and 8.1."""

from __future__ import annotations

import pytest
import torch

from mesti.models import MicroAttentionNet, OffApexNet, STSTNet, create_model, num_params
from mesti.models.micro_attention import MicroAttentionUnit
from mesti.models.ststnet import MaxPool2dSame


@pytest.mark.parametrize("geometry", ["matlab", "pytorch"])
def test_ststnet_has_1683_parameters_in_both_geometries(geometry: str) -> None:
    model = create_model("ststnet", 3, geometry=geometry)
    assert num_params(model) == 1_683  # PEERS.md 1.4: 84 + 140 + 224 convs, 32 BN, 1,203 FC
    assert num_params(model) - sum(s.bn.weight.numel() * 2 for s in model.streams) == 1_651
    assert model.fc.in_features == 400


@pytest.mark.parametrize("geometry,conv_side", [("matlab", 28), ("pytorch", 30)])
def test_ststnet_geometries_differ_before_pooling_and_meet_at_10(geometry: str, conv_side: int) -> None:
    model = STSTNet(3, geometry=geometry).eval()
    stream = model.streams[2]
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        assert stream.conv(x).shape == (2, 8, conv_side, conv_side)
        assert stream(x).shape == (2, 8, 10, 10)
        assert model.forward_features(x).shape == (2, 16, 5, 5)


def test_ststnet_puts_relu_before_batchnorm() -> None:
    for stream in STSTNet(3).streams:
        assert [name for name, _ in stream.named_children()] == ["conv", "relu", "bn", "pool", "drop"]
    assert [s.conv.out_channels for s in STSTNet(3).streams] == [3, 5, 8]


def test_same_pooling_pads_right_and_bottom_like_matlab() -> None:
    x = torch.arange(25.0).view(1, 1, 5, 5)  # 5 px with pool 3 / stride 3: one padded cell, at the end
    out = MaxPool2dSame(3, 3)(-x)  # negated: the max of each window is its first (top-left) cell
    assert torch.equal(out, -torch.tensor([[[[0.0, 3.0], [15.0, 18.0]]]]))


@pytest.mark.parametrize("relu_after_conv", [True, False])
def test_off_apexnet_has_2664475_parameters(relu_after_conv: bool) -> None:
    model = create_model("off_apexnet", 3, relu_after_conv=relu_after_conv)
    assert num_params(model) == 2_664_475  # PEERS.md 2.4
    has_relu = any(isinstance(m, torch.nn.ReLU) for m in model.streams.modules())
    assert has_relu is relu_after_conv


def test_off_apexnet_runs_one_stream_per_flow_channel() -> None:
    model = OffApexNet(3).eval()
    assert len(model.streams) == 2 and model.hidden[0].in_features == 2 * 784
    x = torch.randn(1, 2, 28, 28)
    moved = x.clone()
    moved[:, 1] += 1.0  # change v only: stream A (u) must not see it
    with torch.no_grad():
        assert torch.equal(model.streams[0](x[:, :1]), model.streams[0](moved[:, :1]))
        assert not torch.equal(model(x), model(moved))


def test_off_apexnet_meb_variant_has_807909_parameters() -> None:
    assert num_params(create_model("off_apexnet_meb", 3)) == 807_909


def test_micro_attention_has_5944839_parameters_for_grayscale_5_classes() -> None:
    model = create_model("micro_attention", 5)
    assert model.model_info.input_size == (1, 224, 224)
    attention = sum(p.numel() for n, p in model.named_parameters() if ".attention." in n)
    assert attention == 1_044_480
    assert num_params(model) - attention == 4_900_359
    assert num_params(model) == 5_944_839
    assert num_params(create_model("micro_attention", 5, in_chans=3)) - 5_944_839 == 6_276


def test_micro_attention_channel_mean_is_fixed() -> None:
    model = MicroAttentionNet(5)
    fixed = [b for n, b in model.named_buffers() if n.endswith("mean_weight")]
    assert sum(b.numel() for b in fixed) == 960
    assert not any(b.requires_grad for b in fixed)
    assert not any(n.endswith("mean_weight") for n, _ in model.named_parameters())


def test_micro_attention_unit_is_t_plus_t_times_a_sigmoid_map() -> None:
    torch.manual_seed(0)
    unit = MicroAttentionUnit(4)
    s, a, b = (torch.randn(2, 4, 5, 5) for _ in range(3))
    t = b + s
    m = torch.sigmoid(unit.reduce(torch.cat([s, a, b], 1)).mean(dim=1, keepdim=True))
    torch.testing.assert_close(unit(t, s, a, b), t + t * m)


def test_micro_attention_stages_run_at_56_28_14_7() -> None:
    model = MicroAttentionNet(5).eval()
    seen: list[tuple[int, ...]] = []
    for stage in model.stages:
        stage.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:])))
    with torch.no_grad():
        model(torch.randn(1, 1, 224, 224))
    assert seen == [(64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]
    assert model.fc.bias.detach().eq(0.2).all()
