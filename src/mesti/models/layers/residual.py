"""The residual part of a MEGANet block (docs/method.md, MEGANet step 3)."""

from __future__ import annotations

from torch import Tensor, nn


def shortcut(in_chs: int, out_chs: int, stride: int = 1) -> nn.Module:
    """Identity when the shapes agree, else a 1x1 projection with BatchNorm (ResNet option B)."""
    if in_chs == out_chs and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_chs),
    )


class ResidualBlock(nn.Module):
    """3x3 conv-BN-ReLU, 3x3 conv-BN, plus the shortcut.

    There is no ReLU after the addition: the paper places the block's ReLU after the
    self-attention that follows, so it lives in the Residual-Attention block instead.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_chs)
        self.shortcut = shortcut(in_chs, out_chs, stride)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return out + self.shortcut(x)
