"""The paper's baselines (Table I), built by torchvision with no weights and resized ends.

No hand-written copies: torchvision's own builders make the networks, with ``weights=None``
(nothing is downloaded; training starts from scratch unless ``pretrained=PATH`` is given),
the classifier sized to the classes, and the first conv rebuilt for ``in_chans`` when it is
not 3.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision import models as tvm

from mesti.models.registry import register_model


def replace_input_conv(model: nn.Module, name: str, in_chans: int) -> None:
    """Swap the conv at ``name`` for one taking ``in_chans`` inputs, initialised as torchvision does.

    torchvision initialises these convs with He-normal over fan-out (which does not depend on
    the input channels) and zero bias.
    """
    old = model.get_submodule(name)
    assert isinstance(old, nn.Conv2d)
    new = nn.Conv2d(
        in_chans, old.out_channels, old.kernel_size, stride=old.stride, padding=old.padding,  # type: ignore[arg-type]
        dilation=old.dilation, groups=old.groups, bias=old.bias is not None,  # type: ignore[arg-type]
    )
    nn.init.kaiming_normal_(new.weight, mode="fan_out", nonlinearity="relu")
    if new.bias is not None:
        nn.init.zeros_(new.bias)
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def _torchvision(builder: Callable[..., nn.Module], first_conv: str, num_classes: int, in_chans: int) -> nn.Module:
    model = builder(weights=None, num_classes=num_classes)
    if in_chans != 3:
        replace_input_conv(model, first_conv, in_chans)
    return model


_NOTE = "torchvision builder, weights=None; trained with the project's recipe (docs/method.md, Training) as in the paper's Table I"

#: VGG19's recipe in the paper's Table II: LEARNet's, whose VGG19 on the dynamic image the paper
#: quotes and says it ran with MESTI "in the same manner". No point of it is public (below), so
#: each keeps the paper's; ``mesti models vgg19`` lists them as "not stated".
LEARNET_VGG19_RECIPE = {
    "optimizer": None,
    "lr": None,
    "weight_decay": None,
    "batch_size": None,
    "epochs": None,
    "loss": None,
    "augment": None,
    "notes": "as LEARNet (Verma et al., IEEE TIP 2020, DOI 10.1109/TIP.2019.2912358) ran its VGG19 baseline on the "
    "dynamic image, which the MESTI paper's Table II follows. Open, not stated in any public source mesti could read "
    "(LEARNet's released code holds its network and a dynamic-image script, no training script): optimizer, learning "
    "rate, weight decay, batch size, epochs, loss, augmentation, ImageNet initialisation, input size (LEARNet's own "
    "network takes 112 x 112), the dynamic-image variant and the class set. Each keeps the paper's recipe.",
}


@register_model(
    input_size=(3, 224, 224),
    source="Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image Recognition. ICLR 2015; " + _NOTE,
    description="VGG19 (torchvision), paper baseline",
    native_recipe=LEARNET_VGG19_RECIPE,
    first_conv=("features.0",),
    classifier=("classifier.6",),
)
def vgg19(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224)) -> nn.Module:
    return _torchvision(tvm.vgg19, "features.0", num_classes, in_chans)


@register_model(
    input_size=(3, 224, 224),
    source="He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016; " + _NOTE,
    description="ResNet-50 (torchvision), paper baseline",
    first_conv=("conv1",),
    classifier=("fc",),
)
def resnet50(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224)) -> nn.Module:
    return _torchvision(tvm.resnet50, "conv1", num_classes, in_chans)


@register_model(
    input_size=(3, 224, 224),
    source="Tan, Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks. ICML 2019; " + _NOTE,
    description="EfficientNet-B0 (torchvision), paper baseline",
    first_conv=("features.0.0",),
    classifier=("classifier.1",),
)
def efficientnet_b0(num_classes: int, in_chans: int = 3, img_size: tuple[int, int] = (224, 224)) -> nn.Module:
    return _torchvision(tvm.efficientnet_b0, "features.0.0", num_classes, in_chans)
