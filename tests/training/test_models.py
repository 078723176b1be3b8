import torch

from pipelines.training.models.airbench import AirbenchNet
from pipelines.training.models.resnet import ResNet18


def test_resnet18_is_d2ls_cifar_variant():
    net = ResNet18(num_classes=10)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 17  # stem + 4 stages x 2 blocks x 2 convs
    assert 10_000_000 < sum(p.numel() for p in net.parameters()) < 12_000_000


def test_whitening_layer_decorrelates_patches():
    torch.manual_seed(0)
    mixing = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.6, 0.5], [0.0, 0.0, 0.3]])
    images = torch.einsum("ij,njhw->nihw", mixing, torch.randn(64, 3, 32, 32))  # correlated channels
    net = AirbenchNet(widths=(8, 8, 8))
    net.init_whitening(images)
    out = net.whiten(images) - net.whiten.bias.view(1, -1, 1, 1)
    half = out[:, :12].permute(0, 2, 3, 1).reshape(-1, 12)
    covariance = torch.cov(half.T)
    assert torch.allclose(covariance, torch.eye(12), atol=0.05)
    assert torch.allclose(out[:, 12:], -out[:, :12], atol=1e-5)  # the second half: the negated filters
    assert net(images).shape == (64, 10)
