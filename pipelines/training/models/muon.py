"""Muon for convolution filters, SGD for the rest, in one optimizer (as airbench94_muon uses it,
github KellerJordan/airbench).

A group with `orthogonalize=True` takes Muon steps: Nesterov momentum, then the update's
matrix (filters flattened to out x in*k*k) replaced by its nearest semi-orthogonal matrix
(a few Newton-Schulz iterations), and the filter renormalised to norm sqrt(out) first: the
BatchNorm after each convolution makes the scale irrelevant, so this stands in for weight
decay. Other groups take plain SGD steps with Nesterov momentum and weight decay. One
optimizer keeps Lightning's automatic optimisation and one learning-rate schedule for both.
"""
import torch

NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)


def orthogonalize(matrix, steps=3, eps=1e-7):
    """An approximately semi-orthogonal matrix close to `matrix` (its singular values pushed toward 1)."""
    a, b, c = NEWTON_SCHULZ
    tall = matrix.size(0) > matrix.size(1)
    x = matrix.T if tall else matrix
    x = x / (x.norm() + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.85, weight_decay=0.0, orthogonalize=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay,
                                  "orthogonalize": orthogonalize})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                buffer = self.state[p].setdefault("momentum", torch.zeros_like(grad))
                if not group["orthogonalize"] and group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                buffer.mul_(group["momentum"]).add_(grad)
                update = grad.add(buffer, alpha=group["momentum"])  # Nesterov
                if group["orthogonalize"]:
                    p.mul_(len(p) ** 0.5 / p.norm())
                    update = orthogonalize(update.reshape(len(p), -1)).view_as(p)
                p.add_(update, alpha=-group["lr"])
        return loss
