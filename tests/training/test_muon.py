import torch

from pipelines.training.models.classifier import ImageClassifier
from pipelines.training.models.muon import Muon, orthogonalize


def losses(p):
    return (p ** 2).sum() + p.sum()


def test_plain_groups_take_the_same_steps_as_sgd_with_nesterov():
    torch.manual_seed(0)
    start = torch.randn(5, 3)
    ours, reference = start.clone().requires_grad_(), start.clone().requires_grad_()
    optimizers = [Muon([ours], lr=0.1, momentum=0.9, weight_decay=0.01),
                  torch.optim.SGD([reference], lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)]
    for _ in range(4):
        for p, optimizer in zip([ours, reference], optimizers, strict=True):
            optimizer.zero_grad()
            losses(p).backward()
            optimizer.step()
    torch.testing.assert_close(ours, reference)


def test_orthogonalize_pushes_singular_values_toward_one():
    torch.manual_seed(0)
    left, _ = torch.linalg.qr(torch.randn(16, 16))
    right, _ = torch.linalg.qr(torch.randn(72, 16))
    matrix = left @ torch.diag(torch.linspace(1, 20, 16)) @ right.T  # singular values 1 to 20
    for result in (orthogonalize(matrix), orthogonalize(matrix.T)):  # wide and tall
        values = torch.linalg.svdvals(result)
        assert values.min() > 0.6 and values.max() < 1.3


def test_filters_are_renormalised_then_stepped_by_the_orthogonalized_update():
    torch.manual_seed(0)
    filters = (torch.randn(8, 4, 3, 3) * 10).requires_grad_()
    optimizer = Muon([{"params": [filters], "orthogonalize": True}], lr=0.01, momentum=0.0)
    losses(filters).backward()
    grad = filters.grad.clone()
    normalised = filters.detach() * 8 ** 0.5 / filters.detach().norm()
    optimizer.step()
    expected = normalised - 0.01 * orthogonalize(grad.reshape(8, -1)).view_as(grad)
    torch.testing.assert_close(filters.detach(), expected)


def test_classifier_gives_convolution_filters_to_muon_only_when_asked():
    def groups(**params):
        module = ImageClassifier(num_classes=10, widths=(8, 8, 8), **params)
        optimizer = module.configure_optimizers()["optimizer"]
        return [(group.get("orthogonalize", False), {p.ndim for p in group["params"]}, len(group["params"]))
                for group in optimizer.param_groups]

    assert all(not orthogonal for orthogonal, _, _ in groups())
    with_muon = groups(muon_lr=0.2)
    [(_, dims, count)] = [group for group in with_muon if group[0]]
    assert dims == {4} and count == 6  # two 3x3 convolutions per group; the whitening filters stay fixed
    assert all(4 not in dims for orthogonal, dims, _ in with_muon if not orthogonal)
