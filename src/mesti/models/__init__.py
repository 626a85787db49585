"""Networks behind one factory: MEGANet, the paper's torchvision baselines, published MER nets.

``create_model(name, num_classes)`` builds any of them; ``list_models()`` names them;
``get_model_info(name)`` or ``model.model_info`` gives the input size a network expects.
"""

# Importing the model modules registers them.
from mesti.models import baselines, meganet, micro_attention, off_apexnet, ststnet  # noqa: F401
from mesti.models.checkpoint import config_path, load_checkpoint, read_config, save_checkpoint
from mesti.models.info import ModelInfo, model_config, model_info
from mesti.models.meganet import MEGANet
from mesti.models.micro_attention import MicroAttentionNet
from mesti.models.off_apexnet import OffApexNet, OffApexNetMEB
from mesti.models.registry import create_model, get_model_info, input_channels, list_models, num_params, register_model
from mesti.models.ststnet import STSTNet
from mesti.models.weights import adapt_input_conv, load_pretrained, load_weights, read_state_dict

__all__ = [
    "MEGANet",
    "MicroAttentionNet",
    "ModelInfo",
    "OffApexNet",
    "OffApexNetMEB",
    "STSTNet",
    "adapt_input_conv",
    "config_path",
    "create_model",
    "get_model_info",
    "input_channels",
    "list_models",
    "load_checkpoint",
    "load_pretrained",
    "load_weights",
    "model_config",
    "model_info",
    "num_params",
    "read_config",
    "read_state_dict",
    "register_model",
    "save_checkpoint",
]
