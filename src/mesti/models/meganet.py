"""MEGANet (docs/method.md, MEGANet): Gradient Attention, a ResNet stem, Residual-Attention blocks.

Nguyen, Khuong, Le, Ngo, "MESTI-MEGANet: Micro-expression Spatio-Temporal Image and
Micro-expression Gradient Attention Networks for Micro-expression Recognition",
arXiv 2509.00056. No official code exists; the points the paper leaves open are constructor
arguments whose defaults are those of docs/method.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from torch import Tensor, nn

from mesti.models.layers import GradientAttention, ResidualBlock, SelfAttention2d, shortcut
from mesti.models.registry import ModelFn, register_model

#: Block widths and strides for 1..4 blocks: 64 -> 128 -> 256 (-> 512), stride 2 from block 2.
DEFAULT_WIDTHS = (64, 128, 256, 512)
DEFAULT_STRIDES = (1, 2, 2, 2)
STEM_WIDTH = 64


@dataclass(frozen=True)
class MEGANetConfig:
    """MEGANet's options: the points the paper leaves open, with docs/method.md's defaults.

    ``MEGANet(3, use_ga=False)`` and ``create_model("meganet", 3, use_ga=False)`` build one
    from keyword arguments; ``MEGANet(3, config)`` takes one whole. Fields are described in
    :class:`MEGANet`.
    """

    num_blocks: int | None = None
    widths: Sequence[int] | None = None
    strides: Sequence[int] | None = None
    drop_rate: float = 0.5
    use_ga: bool = True
    use_residual: bool = True
    use_attention: bool = True
    ga_bias: bool = True
    attention_residual: bool = True
    attn_reduction: int = 8
    attn_gamma_init: float = 0.0
    attn_scale: float | None = 1.0
    attn_pad_qk: bool | None = None

    @classmethod
    def build(cls, config: MEGANetConfig | None, options: dict[str, Any]) -> MEGANetConfig:
        """``config`` (default: the defaults) with ``options`` (field names) replaced; an
        unknown name is a ``TypeError`` naming it, as a constructor's own keyword would be."""
        unknown = sorted(set(options) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"MEGANet got an unexpected keyword argument '{unknown[0]}'")
        return replace(config or cls(), **options)


class ResidualAttentionBlock(nn.Module):
    """Residual part, SAGAN self-attention, ReLU, dropout (docs/method.md, MEGANet step 3).

    The ablation switches remove a part and its weights: without ``use_residual`` only the
    shortcut remains (the identity, or the 1x1 projection that changes width and stride), so
    later blocks still see the widths they expect; without ``use_attention`` the residual
    output goes straight to the ReLU. Its options are the network's (:class:`MEGANetConfig`:
    ``use_residual``, ``use_attention``, ``drop_rate`` and the ``attn_*`` ones), given whole
    or by keyword.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1, config: MEGANetConfig | None = None,
                 **options: Any) -> None:
        super().__init__()
        c = MEGANetConfig.build(config, options)
        self.residual = ResidualBlock(in_chs, out_chs, stride) if c.use_residual else shortcut(in_chs, out_chs, stride)
        self.attention = (
            SelfAttention2d(out_chs, c.attn_reduction, c.attention_residual, c.attn_gamma_init, c.attn_scale,
                            c.attn_pad_qk)
            if c.use_attention
            else nn.Identity()
        )
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(c.drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.act(self.attention(self.residual(x))))


class MEGANet(nn.Module):
    """Micro-expression Gradient Attention Network.

    ``GA -> 7x7/2 conv(64)-BN-ReLU -> 3x3/2 max-pool -> N Residual-Attention blocks -> GAP -> FC``.
    At 224 x 224 the blocks run at 56, 28 and 14 pixels. The output is logits.

    Args:
        num_classes: outputs of the final FC.
        in_chans: input channels (3 for a MESTI image).
        config: the options below as one :class:`MEGANetConfig`; keyword options replace
            its fields.
        num_blocks: Residual-Attention blocks (paper: 3; its Table VI also runs 2 and 4);
            default ``len(widths)`` when widths are given, else 3.
        widths: block widths; default the first ``num_blocks`` of 64, 128, 256, 512.
        strides: block strides; default 1, then 2 for every later block.
        drop_rate: dropout after each block's ReLU (docs/method.md default 0.5).
        use_ga, use_residual, use_attention: the ablations of the paper's Table V.
        ga_bias: bias in the GA block's 3x3 conv (docs/method.md default: yes).
        attention_residual: self-attention adds its input back (SAGAN; docs/method.md default).
        attn_reduction: query/key width is ``C // attn_reduction`` (SAGAN: 8).
        attn_gamma_init: initial gamma (SAGAN: 0, so each block starts as its residual part).
        attn_scale: factor on ``q . k`` before the softmax; SAGAN has none (1.0), ``None``
            gives ``1 / sqrt(d_qk)``.
        attn_pad_qk: pad query/key to the value width for fused kernels; see
            :class:`~mesti.models.layers.SelfAttention2d` (``None``: everywhere but CUDA).
    """

    options_class = MEGANetConfig

    def __init__(self, num_classes: int = 3, in_chans: int = 3, config: MEGANetConfig | None = None,
                 **options: Any) -> None:
        super().__init__()
        self.config = c = MEGANetConfig.build(config, options)
        widths, strides = _block_layout(c.num_blocks, c.widths, c.strides)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.ga = GradientAttention(in_chans, bias=c.ga_bias) if c.use_ga else nn.Identity()
        stem_conv = nn.Conv2d(in_chans, STEM_WIDTH, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(stem_conv.weight, mode="fan_out", nonlinearity="relu")
        self.stem = nn.Sequential(stem_conv, nn.BatchNorm2d(STEM_WIDTH), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        blocks = []
        in_chs = STEM_WIDTH
        for width, stride in zip(widths, strides):
            blocks.append(ResidualAttentionBlock(in_chs, width, stride, c))
            in_chs = width
        self.blocks = nn.Sequential(*blocks)
        self.num_features = in_chs
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_chs, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """Feature map after the last block: ``B x widths[-1] x H/16 x W/16`` for 3 blocks (the stem
        divides by 4, each block after the first by 2)."""
        return self.blocks(self.stem(self.ga(x)))

    def forward_head(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(x).flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


def _block_layout(
    num_blocks: int | None, widths: Sequence[int] | None, strides: Sequence[int] | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if num_blocks is None:
        num_blocks = len(widths) if widths is not None else 3
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
    if widths is None:
        if num_blocks > len(DEFAULT_WIDTHS):
            raise ValueError(f"give widths for more than {len(DEFAULT_WIDTHS)} blocks")
        widths = DEFAULT_WIDTHS[:num_blocks]
    if strides is None:
        strides = (1, *(2,) * (num_blocks - 1))
    if len(widths) != num_blocks or len(strides) != num_blocks:
        raise ValueError(f"{num_blocks} blocks need {num_blocks} widths and strides, got {list(widths)} and {list(strides)}")
    return tuple(int(w) for w in widths), tuple(int(s) for s in strides)


_SOURCE = (
    "Nguyen, Khuong, Le, Ngo. MESTI-MEGANet: Micro-expression Spatio-Temporal Image and "
    "Micro-expression Gradient Attention Networks for Micro-expression Recognition. "
    "arXiv 2509.00056 (2025), section 3; open points per docs/method.md"
)


def _register(description: str) -> Callable[[ModelFn], ModelFn]:
    return register_model(
        input_size=(3, 224, 224), source=_SOURCE, description=description, first_conv=("ga.conv", "stem.0"), classifier=("fc",)
    )


def _meganet(num_classes: int, in_chans: int, defaults: dict[str, object], kwargs: dict[str, object]) -> MEGANet:
    return MEGANet(num_classes, in_chans, **{**defaults, **kwargs})  # type: ignore[arg-type]


@_register("MEGANet: GA, 3 Residual-Attention blocks (the paper's network)")
def meganet(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {}, kwargs)


@_register("MEGANet, 2 blocks (Table VI)")
def meganet_b2(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {"num_blocks": 2}, kwargs)


@_register("MEGANet, 4 blocks up to 512 wide (Table VI)")
def meganet_b4(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {"num_blocks": 4}, kwargs)


@_register("ablation: residual part only (Table V)")
def meganet_res(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {"use_ga": False, "use_attention": False}, kwargs)


@_register("ablation: self-attention only (Table V)")
def meganet_attn(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {"use_ga": False, "use_residual": False}, kwargs)


@_register("ablation: residual + self-attention, no GA (Table V)")
def meganet_res_attn(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {"use_ga": False}, kwargs)


@_register("ablation: GA only (Table V)")
def meganet_ga(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs: object) -> MEGANet:
    return _meganet(num_classes, in_chans, {"use_residual": False, "use_attention": False}, kwargs)
