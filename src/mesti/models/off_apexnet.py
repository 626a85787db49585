"""OFF-ApexNet: two LeNet streams on the onset->apex flow (u, v).

Gan, Liong, Yau, Huang, Tan. "OFF-ApexNet on micro-expression recognition system". Signal
Processing: Image Communication 74 (2019) 129-139, DOI 10.1016/j.image.2019.02.005. No
official code and the paper body could not be read: the layout is the two-stream
re-implementation in ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet (models/off_apexnet.py),
2,664,475 parameters for 3 classes (the STSTNet paper quotes 2.77 M). The single-stream
MEB variant (tvaranka/meb) is ``off_apexnet_meb``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mesti.models.registry import register_model

HIDDEN = 1024


def _lenet_stream(in_chans: int, kernel_size: int, relu_after_conv: bool) -> nn.Sequential:
    """conv(6) [ReLU] pool2, conv(16) [ReLU] pool2, each conv "same" padded."""
    layers: list[nn.Module] = []
    for i, width in enumerate((6, 16)):
        layers.append(nn.Conv2d(in_chans if i == 0 else 6, width, kernel_size, padding=kernel_size // 2))
        if relu_after_conv:
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def _flat_size(img_size: tuple[int, int], streams: int) -> int:
    h, w = (n // 4 for n in img_size)
    if h < 1 or w < 1:
        raise ValueError(f"img_size {tuple(img_size)} leaves no pixels after two 2x2 pools")
    return streams * 16 * h * w


class OffApexNet(nn.Module):
    """One LeNet stream per input channel (u and v: two), concatenated, two FC-1024 layers.

    Args:
        in_chans: streams; the network is defined for 2 (u, v). No weights are shared.
        relu_after_conv: ReLU after each conv (default). The re-implementation has none; a
            ReLU is the usual LeNet practice and probably the paper's.
            It adds no parameters.
        drop_rate: dropout after each hidden FC layer (re-implementation: 0.5; unverified).
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_chans: int = 2,
        img_size: tuple[int, int] = (28, 28),
        *,
        relu_after_conv: bool = True,
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.streams = nn.ModuleList(_lenet_stream(1, 5, relu_after_conv) for _ in range(in_chans))
        self.num_features = HIDDEN
        self.hidden = nn.Sequential(
            nn.Linear(_flat_size(img_size, in_chans), HIDDEN), nn.ReLU(inplace=True), nn.Dropout(drop_rate),
            nn.Linear(HIDDEN, HIDDEN), nn.ReLU(inplace=True), nn.Dropout(drop_rate),
        )
        self.fc = nn.Linear(HIDDEN, num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        flat = [stream(x[:, i : i + 1]).flatten(1) for i, stream in enumerate(self.streams)]
        return self.hidden(torch.cat(flat, dim=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.forward_features(x))


class OffApexNetMEB(nn.Module):
    """MEB's single-stream simplification: 2-channel input, two 3x3 convs, one FC-1024.

    807,909 parameters for 3 classes; a "MEB-style" variant, not the paper's layout.
    """

    def __init__(self, num_classes: int = 3, in_chans: int = 2, img_size: tuple[int, int] = (28, 28), *, drop_rate: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.features = _lenet_stream(in_chans, 3, relu_after_conv=True)
        self.num_features = HIDDEN
        self.hidden = nn.Sequential(
            nn.Dropout(drop_rate), nn.Linear(_flat_size(img_size, 1), HIDDEN), nn.ReLU(inplace=True), nn.Dropout(drop_rate),
        )
        self.fc = nn.Linear(HIDDEN, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.hidden(self.features(x).flatten(1)))


_SOURCE = (
    "Gan, Liong, Yau, Huang, Tan. OFF-ApexNet on micro-expression recognition system. "
    "Signal Processing: Image Communication 74 (2019) 129-139, DOI 10.1016/j.image.2019.02.005"
)
_RECIPE = {
    "optimizer": "adam",
    "lr": 1e-4,
    "weight_decay": None,
    "batch_size": 64,
    "epochs": 3000,
    "loss": "cross_entropy",
    "augment": "none",
    "notes": "[NV] from the PRICAI2021-Off-TANet re-implementation's config, not read in the paper; "
    "agrees with the paper's recalled lr 1e-4 and 3000 epochs. Augmentation: none known.",
}


@register_model(
    input_size=(2, 28, 28),
    source=_SOURCE + "; layout of PRICAI2021-Off-TANet models/off_apexnet.py",
    description="OFF-ApexNet (2019), two streams, flow u, v",
    native_recipe=_RECIPE,
    classifier=("fc",),
)
def off_apexnet(num_classes: int, in_chans: int = 2, img_size: tuple[int, int] = (28, 28), **kwargs: object) -> OffApexNet:
    return OffApexNet(num_classes, in_chans, img_size, **kwargs)  # type: ignore[arg-type]


@register_model(
    input_size=(2, 28, 28),
    source=_SOURCE + "; single-stream variant of tvaranka/meb (OffApexNet)",
    description="OFF-ApexNet, MEB single-stream variant",
    native_recipe=_RECIPE,
    first_conv=("features.0",),
    classifier=("fc",),
)
def off_apexnet_meb(num_classes: int, in_chans: int = 2, img_size: tuple[int, int] = (28, 28), **kwargs: object) -> OffApexNetMEB:
    return OffApexNetMEB(num_classes, in_chans, img_size, **kwargs)  # type: ignore[arg-type]
