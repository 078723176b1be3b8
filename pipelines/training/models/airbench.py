"""A speed-run CIFAR network in the style of airbench (github KellerJordan/airbench).

Patch-whitening first layer (fixed 2x2 filters from the eigenvectors of the training
patches' covariance), then three conv groups (conv, max-pool, BatchNorm, GELU, conv,
BatchNorm, GELU) and a linear head on max-pooled features. Narrow widths suit a CPU;
airbench's own are (64, 256, 256). With identity_init, each 3x3 convolution's first filters
start as the identity (an implicit residual path), as in airbench94.
"""
import torch
from torch import nn


def batch_norm(channels):
    norm = nn.BatchNorm2d(channels, momentum=0.4, eps=1e-12)
    norm.weight.requires_grad = False  # only the shift is learned, as in airbench
    return norm


def conv(channels_in, channels_out, identity_init):
    layer = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
    if identity_init:
        with torch.no_grad():
            nn.init.dirac_(layer.weight[:min(channels_in, channels_out)])
    return layer


class ConvGroup(nn.Sequential):
    def __init__(self, channels_in, channels_out, identity_init=False):
        super().__init__(
            conv(channels_in, channels_out, identity_init),
            nn.MaxPool2d(2),
            batch_norm(channels_out),
            nn.GELU(),
            conv(channels_out, channels_out, identity_init),
            batch_norm(channels_out),
            nn.GELU(),
        )


class AirbenchNet(nn.Module):
    def __init__(self, num_classes=10, widths=(64, 256, 256), whiten_width=24, identity_init=False):
        super().__init__()
        self.whiten = nn.Conv2d(3, whiten_width, kernel_size=2, padding=0, bias=True)
        self.whiten.weight.requires_grad = False
        self.body = nn.Sequential(
            nn.GELU(),
            ConvGroup(whiten_width, widths[0], identity_init),
            ConvGroup(widths[0], widths[1], identity_init),
            ConvGroup(widths[1], widths[2], identity_init),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.scale = 1 / 9  # keeps the initial logits small, like airbench's output scaling

    @torch.no_grad()
    def init_whitening(self, images, eps=5e-4):
        """images: float NCHW, normalised. Sets the fixed 2x2 whitening filters (and their negatives)."""
        patches = images.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, 3 * 2 * 2).double()
        patches = patches - patches.mean(dim=0)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, 3, 2, 2)
        filters = filters.flip(0)  # largest variance first
        half = self.whiten.out_channels // 2
        self.whiten.weight.copy_(torch.cat([filters[:half], -filters[:half]]).float())

    def forward(self, x):
        return self.head(self.body(self.whiten(x))) * self.scale
