"""Lookahead (Zhang et al., 2019) as airbench uses it: slow weights that follow the fast ones.

Every `every` steps the slow copy moves toward the trained weights by 1 - decay, and the
trained weights jump back to it; decay grows over training as (step / total)^power, so early
steps run freely and late ones average. At the end of training the model takes the slow weights.
Floating-point buffers (BatchNorm statistics) follow too.
"""
import pytorch_lightning as pl
import torch


class Lookahead(pl.Callback):
    def __init__(self, every=5, decay=0.95**5, power=3):
        self.every, self.decay, self.power = every, decay, power
        self.slow = None

    def _state(self, module):
        return [t for t in module.state_dict().values() if torch.is_floating_point(t)]

    def on_train_start(self, trainer, module):
        self.slow = [t.detach().clone() for t in self._state(module)]

    @torch.no_grad()
    def _update(self, module, decay):
        for slow, fast in zip(self.slow, self._state(module)):
            slow.lerp_(fast, 1 - decay)
            fast.copy_(slow)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        step, total = trainer.global_step, max(1, trainer.estimated_stepping_batches)
        if step % self.every == 0:
            self._update(module, self.decay * (step / total) ** self.power)

    def on_train_end(self, trainer, module):
        self._update(module, 1.0)
