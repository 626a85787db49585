"""The blocks MEGANet is made of: Gradient Attention, SAGAN self-attention, Residual-Attention."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from mesti.models.layers import GradientAttention, SelfAttention2d, finite_difference_magnitude
from mesti.models.meganet import ResidualAttentionBlock


def test_finite_differences_are_forward_and_zero_padded() -> None:
    # x(i, j) = 2j + 3i: every horizontal step is 2, every vertical step 3.
    i, j = torch.meshgrid(torch.arange(4.0), torch.arange(5.0), indexing="ij")
    g = finite_difference_magnitude((2 * j + 3 * i)[None, None])[0, 0]
    assert g.shape == (4, 5)
    assert torch.equal(g[:-1, :-1], torch.full((3, 4), 5.0))
    assert torch.equal(g[-1, :-1], torch.full((4,), 2.0))  # no row below: only Gx
    assert torch.equal(g[:-1, -1], torch.full((3,), 3.0))  # no column to the right: only Gy
    assert g[-1, -1] == 0


def test_finite_differences_are_absolute_per_channel() -> None:
    x = torch.zeros(1, 2, 3, 3)
    x[0, 0, 1, 1] = 4.0  # a bump in channel 0 only
    g = finite_difference_magnitude(x)
    assert torch.equal(g[0, 1], torch.zeros(3, 3))
    assert g[0, 0, 1, 1] == 8.0  # falls by 4 to the right and below
    assert g[0, 0, 0, 1] == 4.0 and g[0, 0, 1, 0] == 4.0  # rises by 4 from above and from the left


def test_gradient_attention_is_input_times_a_map_in_unit_interval() -> None:
    torch.manual_seed(0)
    ga = GradientAttention(3)
    x = torch.randn(2, 3, 16, 16)
    a = ga.attention_map(x)
    assert a.shape == (2, 1, 16, 16)
    assert bool(((a > 0) & (a < 1)).all())
    out = ga(x)
    torch.testing.assert_close(out, x * a)
    ratio = out / x  # one factor per pixel, shared by every channel
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    assert not torch.allclose(out, x)


def test_gradient_attention_conv_receives_gradients() -> None:
    torch.manual_seed(0)
    ga = GradientAttention(3)
    ga(torch.randn(2, 3, 16, 16)).pow(2).sum().backward()
    assert ga.conv.weight.grad is not None and ga.conv.weight.grad.abs().sum() > 0
    assert ga.conv.bias is not None and ga.conv.bias.grad is not None and ga.conv.bias.grad.abs() > 0
    assert GradientAttention(3, bias=False).conv.bias is None


def _sagan_reference(attn: SelfAttention2d, x: torch.Tensor) -> torch.Tensor:
    """SAGAN's published formulation, with the full N x N attention matrix."""
    b, c, h, w = x.shape
    q = attn.query(x).view(b, -1, h * w).permute(0, 2, 1)  # B x N x C'
    k = attn.key(x).view(b, -1, h * w)  # B x C' x N
    v = attn.value(x).view(b, -1, h * w)  # B x C x N
    energy = attn.scale * torch.bmm(q, k)  # B x N x N, energy[i, j] = q_i . k_j
    weights = F.softmax(energy, dim=-1)
    return torch.bmm(v, weights.permute(0, 2, 1)).view(b, c, h, w)


@pytest.mark.parametrize("scale", [1.0, None])
@pytest.mark.parametrize("pad_qk", [False, True, None])
def test_self_attention_matches_sagan(scale: float | None, pad_qk: bool | None) -> None:
    torch.manual_seed(0)
    attn = SelfAttention2d(32, scale=scale, pad_qk=pad_qk)
    x = torch.randn(2, 32, 6, 7)
    ref = _sagan_reference(attn, x)
    torch.testing.assert_close(attn.attend(x), ref, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        attn.gamma.fill_(0.5)
    torch.testing.assert_close(attn(x), 0.5 * ref + x, rtol=1e-4, atol=1e-5)
    assert attn.scale == (1.0 if scale == 1.0 else 4**-0.5)


def test_self_attention_at_56px_runs_the_fused_kernel_on_cpu() -> None:
    # Restricted to the flash backend, SDPA raises instead of building the 3,136^2 matrix.
    attn = SelfAttention2d(64, gamma_init=0.5)
    x = torch.randn(2, 64, 56, 56, requires_grad=True)
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        attn(x).sum().backward()
    assert attn.query.weight.grad is not None and attn.query.weight.grad.abs().sum() > 0
    unpadded = SelfAttention2d(64, pad_qk=False)  # C/8 query vs C value: no fused CPU kernel
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]), warnings.catch_warnings(), pytest.raises(RuntimeError):
        warnings.simplefilter("ignore")  # torch explains why each kernel was skipped
        unpadded(x)


def test_self_attention_starts_as_identity_and_its_residual_is_a_switch() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 16, 5, 5)
    assert torch.equal(SelfAttention2d(16)(x), x)
    assert torch.equal(SelfAttention2d(16, residual=False)(x), torch.zeros_like(x))
    attn = SelfAttention2d(16, residual=False, gamma_init=1.0)
    torch.testing.assert_close(attn(x), attn.attend(x))


@pytest.mark.parametrize("in_chs,out_chs,stride", [(64, 64, 1), (64, 128, 2)])
def test_residual_attention_block_at_init_equals_its_residual_path(in_chs: int, out_chs: int, stride: int) -> None:
    torch.manual_seed(0)
    block = ResidualAttentionBlock(in_chs, out_chs, stride).eval()  # eval: dropout off
    x = torch.randn(2, in_chs, 12, 12)
    with torch.no_grad():
        residual = block.residual(x)
        assert torch.equal(block.attention(residual), residual)
        torch.testing.assert_close(block(x), F.relu(residual))
        block.attention.gamma.fill_(0.5)  # the equality above is not vacuous
        assert not torch.allclose(block(x), F.relu(residual))


def test_residual_part_has_no_relu_after_the_add() -> None:
    # PAPER.md: add, then self-attention, then ReLU; the residual output keeps its negatives.
    torch.manual_seed(0)
    block = ResidualAttentionBlock(8, 8, use_attention=False).eval()
    with torch.no_grad():
        assert (block.residual(torch.randn(2, 8, 6, 6)) < 0).any()
