"""Micro-Attention network: ResNet-10 with one micro-attention unit per stage.

Wang, Peng, Bi, Chen. "Micro-attention for micro-expression recognition". Neurocomputing 410
(2020) 354-362, DOI 10.1016/j.neucom.2020.06.005, arXiv 1811.02360. Ported from the authors'
Caffe definition (CodeShareBot/Micro-Attention-for-Micro-Expression: train_test.prototxt):
Caffe BatchNorm + Scale is one affine BatchNorm2d here, and the stem pool rounds up as Caffe
does. Grayscale 224 x 224 input; 5,944,839 learnable parameters for 5 classes (4,900,359 in
the ResNet-10 and its head, 1,044,480 in the four units), 6,276 more for RGB input.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mesti.models.registry import register_model

STAGE_WIDTHS = (64, 128, 256, 512)


class MicroAttentionUnit(nn.Module):
    """``O = T + T * sigmoid(mean_c(conv1x1([shortcut, a, b])))``.

    ``a`` and ``b`` are the block's two conv outputs (``a`` after its ReLU, ``b`` raw) and
    ``T = b + shortcut``. The channel mean is Caffe's fixed 1x1 conv with weights ``1/C``,
    kept as a buffer so it is never trained.
    """

    mean_weight: Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(3 * channels, channels, 1, bias=False)
        self.register_buffer("mean_weight", torch.full((1, channels, 1, 1), 1.0 / channels), persistent=False)

    def forward(self, t: Tensor, shortcut: Tensor, a: Tensor, b: Tensor) -> Tensor:
        m = torch.sigmoid(F.conv2d(self.reduce(torch.cat([shortcut, a, b], dim=1)), self.mean_weight))
        return t + t * m


class MicroAttentionBlock(nn.Module):
    """A ResNet basic block (no BN after its second conv) with a micro-attention unit.

    ``preact=False`` is stage 1: the input is already after ReLU, identity shortcut.
    ``preact=True`` (stages 2-4): BN-ReLU first, then a strided 1x1 projection shortcut.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int, preact: bool) -> None:
        super().__init__()
        if not preact and (in_chs != out_chs or stride != 1):
            raise ValueError("a block without pre-activation has an identity shortcut: same width, stride 1")
        self.pre = nn.Sequential(nn.BatchNorm2d(in_chs), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, padding=1, bias=False)
        self.shortcut = nn.Conv2d(in_chs, out_chs, 1, stride=stride, bias=False) if preact else nn.Identity()
        self.attention = MicroAttentionUnit(out_chs)

    def forward(self, x: Tensor) -> Tensor:
        p = self.pre(x)
        a = self.act1(self.bn1(self.conv1(p)))
        b = self.conv2(a)
        s = self.shortcut(p)
        return self.attention(b + s, s, a, b)


class MicroAttentionNet(nn.Module):
    """Input BN, 7x7/2 stem, 3x3/2 pool, four stages (64, 128, 256, 512), BN-ReLU, GAP, FC.

    Args:
        in_chans: 1 as published (grayscale apex frame). The MESTI paper feeds it MESTI
            without saying how: pass 3 to widen the stem for RGB, or feed a
            grayscale MESTI with 1, and record the choice.
    """

    def __init__(self, num_classes: int = 5, in_chans: int = 1) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.input_norm = nn.BatchNorm2d(in_chans)  # learned input normalisation, no mean subtraction
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, STAGE_WIDTHS[0], 7, stride=2, padding=3, bias=True),
            nn.BatchNorm2d(STAGE_WIDTHS[0]),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        stages, in_chs = [], STAGE_WIDTHS[0]
        for i, width in enumerate(STAGE_WIDTHS):
            stages.append(MicroAttentionBlock(in_chs, width, stride=1 if i == 0 else 2, preact=i > 0))
            in_chs = width
        self.stages = nn.Sequential(*stages)
        self.head_norm = nn.Sequential(nn.BatchNorm2d(in_chs), nn.ReLU(inplace=True))
        self.num_features = in_chs
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_chs, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """Caffe fillers of the prototxt: "msra" convs, "xavier" FC weight, FC bias 0.2.

        Caffe's msra and xavier both scale by fan-in by default: He-normal, and
        uniform(+-sqrt(3 / fan_in)).
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        bound = math.sqrt(3.0 / self.fc.in_features)
        nn.init.uniform_(self.fc.weight, -bound, bound)
        nn.init.constant_(self.fc.bias, 0.2)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.head_norm(self.stages(self.stem(self.input_norm(x))))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.forward_features(x)).flatten(1))


@register_model(
    input_size=(1, 224, 224),
    source="Wang, Peng, Bi, Chen. Micro-attention for micro-expression recognition. Neurocomputing 410 "
    "(2020) 354-362, DOI 10.1016/j.neucom.2020.06.005; Caffe prototxt in CodeShareBot/Micro-Attention-for-Micro-Expression",
    description="Micro-Attention (2020), ResNet-10, grayscale apex",
    native_recipe={
        "optimizer": None,
        "lr": None,
        "weight_decay": None,
        "batch_size": 10,
        "epochs": None,
        "loss": "cross_entropy",
        "augment": "resize to 240 x 240, random 224 x 224 crop, no mirroring; test: resize to 224",
        "random_crop": {"resize": 240, "crop": 224},
        "notes": "batch, crops and loss from the authors' prototxt [V:code]; no solver file is public. "
        "Transfer learning from ImageNet and macro-expression data per the abstract (not reproducible here). "
        "PRICAI2021-Off-TANet used SGD lr 1e-3, momentum 0.9, weight decay 5e-4, x0.1 every 10 epochs, "
        "51 epochs [NV as the paper's].",
    },
    first_conv=("stem.0",),
    classifier=("fc",),
)
def micro_attention(num_classes: int, in_chans: int = 1, img_size: tuple[int, int] = (224, 224)) -> MicroAttentionNet:
    return MicroAttentionNet(num_classes, in_chans)
