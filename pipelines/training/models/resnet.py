"""ResNet-18 for 32x32 images, as in D2L's CIFAR-10 chapter: a 3x3 stem without max-pool,
four stages of two residual blocks (64, 128, 256, 512 channels), global average pool."""
from torch import nn


class Residual(nn.Module):
    def __init__(self, channels_in, channels_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False),
                          nn.BatchNorm2d(channels_out))
            if stride != 1 or channels_in != channels_out else nn.Identity()
        )

    def forward(self, x):
        y = nn.functional.relu(self.bn1(self.conv1(x)))
        return nn.functional.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes=10, widths=(64, 128, 256, 512)):
        super().__init__()
        layers = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
        channels = widths[0]
        for stage, width in enumerate(widths):
            stride = 1 if stage == 0 else 2
            layers += [Residual(channels, width, stride), Residual(width, width)]
            channels = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
