"""STSTNet: Shallow Triple Stream Three-dimensional CNN.

Liong, Gan, See, Khor, Huang, FG 2019 (DOI 10.1109/FG.2019.8756567, arXiv 1902.03634).
Three parallel streams read the same 28 x 28 (u, v, optical strain) image and differ only in
width (3, 5, 8 filters). Layer order follows the authors' MATLAB graph and PyTorch port
(christy1206/STSTNet): conv -> ReLU -> BatchNorm -> max-pool -> dropout; ReLU comes before
BatchNorm. 1,683 learnable parameters for 3 classes (the paper says 1,670; docs/networks.md).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mesti.models.registry import register_model

GEOMETRIES = ("matlab", "pytorch")
STREAM_WIDTHS = (3, 5, 8)


class MaxPool2dSame(nn.Module):
    """Max-pool with MATLAB/TensorFlow "same" padding: output ``ceil(n / stride)``.

    Odd padding goes to the right and bottom, as MATLAB does; padded cells never win the max.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def _pad(self, n: int) -> tuple[int, int]:
        total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel_size - n, 0)
        return total // 2, total - total // 2

    def forward(self, x: Tensor) -> Tensor:
        top, bottom = self._pad(x.shape[-2])
        left, right = self._pad(x.shape[-1])
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=same"


def _pooled_size(n: int, geometry: str) -> int:
    """Side length after the conv and the 3x3/3 max-pool of one stream."""
    if geometry == "matlab":
        return math.ceil(n / 3)
    return (n + 2 + 2 - 3) // 3 + 1  # conv padding 2 grows n by 2; pool padding 1


class _Stream(nn.Sequential):
    def __init__(self, in_chans: int, width: int, geometry: str, drop_rate: float) -> None:
        matlab = geometry == "matlab"
        super().__init__()
        self.conv = nn.Conv2d(in_chans, width, 3, padding=1 if matlab else 2)
        self.relu = nn.ReLU(inplace=True)
        self.bn = nn.BatchNorm2d(width, eps=1e-5)
        self.pool = MaxPool2dSame(3, 3) if matlab else nn.MaxPool2d(3, 3, padding=1)
        self.drop = nn.Dropout(drop_rate)


class STSTNet(nn.Module):
    """Three shallow streams, concatenated, 2x2 average pool, one FC layer.

    Args:
        geometry: ``"matlab"`` (default): the paper's Table I and the authors' MATLAB run,
            "same" convs (28 x 28 maps) and "same" pooling. ``"pytorch"``: the authors'
            PyTorch port, conv padding 2 (30 x 30 maps) and pool padding 1. Both reach
            10 x 10 after pooling at 28 x 28 and have the same parameters; use ``"pytorch"``
            with weights trained by the port (their names need remapping).
        img_size: ``(H, W)``; the FC width follows it (400 at 28 x 28).
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_chans: int = 3,
        img_size: tuple[int, int] = (28, 28),
        *,
        geometry: str = "matlab",
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        if geometry not in GEOMETRIES:
            raise ValueError(f"geometry must be one of {', '.join(GEOMETRIES)}, got {geometry!r}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.geometry = geometry
        self.streams = nn.ModuleList(_Stream(in_chans, w, geometry, drop_rate) for w in STREAM_WIDTHS)
        self.pool = nn.AvgPool2d(2, 2)
        h, w = (_pooled_size(n, geometry) // 2 for n in img_size)
        if h < 1 or w < 1:
            raise ValueError(f"img_size {tuple(img_size)} leaves no pixels after the pooling layers")
        self.num_features = sum(STREAM_WIDTHS) * h * w
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.pool(torch.cat([stream(x) for stream in self.streams], dim=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.forward_features(x).flatten(1))


@register_model(
    input_size=(3, 28, 28),
    source="Liong, Gan, See, Khor, Huang. Shallow Triple Stream Three-dimensional CNN (STSTNet) for "
    "Micro-expression Recognition. FG 2019, DOI 10.1109/FG.2019.8756567; code christy1206/STSTNet",
    description="STSTNet (FG 2019), flow u, v, strain",
    native_recipe={
        "optimizer": "adam",
        "lr": 5e-5,
        "weight_decay": None,
        "batch_size": 256,
        "epochs": 500,
        "loss": "cross_entropy",
        "augment": "none",
        "notes": "authors' MATLAB main.m [V:code]: last-epoch model, input zero-centred by the mean "
        "training image. Their PyTorch port trains 800 epochs, unshuffled, on raw 0..255 inputs.",
    },
    first_conv=("streams.0.conv", "streams.1.conv", "streams.2.conv"),
    classifier=("fc",),
)
def ststnet(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (28, 28), **kwargs: object) -> STSTNet:
    return STSTNet(num_classes, in_chans, img_size, **kwargs)  # type: ignore[arg-type]
