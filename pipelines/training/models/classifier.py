"""Image classification: any backbone, label smoothing, SGD with Nesterov momentum, warm-up then
linear decay, test-time augmentation; and airbench94's extras (github KellerJordan/airbench) where
they earn their keep: a larger learning rate for BatchNorm biases, the whitening layer's bias
trained only in the first epochs, Lookahead, Muon for the convolution filters, and
torch.compile (the gpu preset; on a CPU too when asked)."""
import sys

import numpy as np
import pytorch_lightning as pl
import torch

from pipelines.core.errors import UserError
from pipelines.training.augment import tta_views
from pipelines.training.models.airbench import AirbenchNet
from pipelines.training.models.classification import ClassificationSteps, RegressionSteps
from pipelines.training.models.lookahead import Lookahead
from pipelines.training.models.muon import Muon
from pipelines.training.models.resnet import ResNet18

NETWORKS = {"airbench": AirbenchNet, "resnet18": ResNet18}


def channel_stats(images, sample=10_000):
    """Per-channel mean and std (0-255 scale) of uint8 NHWC images, on evenly spaced rows."""
    rows = np.linspace(0, len(images) - 1, min(sample, len(images))).astype(int)
    pixels = np.asarray(images[rows], dtype=np.float64).reshape(-1, images.shape[-1])
    return pixels.mean(axis=0).tolist(), pixels.std(axis=0).tolist()


class ImageClassifier(ClassificationSteps, pl.LightningModule):
    def __init__(self, num_classes, model="airbench", widths=None, lr=0.2, momentum=0.9, weight_decay=5e-4,
                 label_smoothing=0.2, warmup=0.2, total_steps=1000, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                 tta=2, channels_last=False, bias_lr_scale=1.0, whiten_bias_epochs=0, lookahead=False,
                 identity_init=False, compile=False, muon_lr=0.0, muon_momentum=0.6, min_size=0,
                 mirror=True):
        super().__init__()
        self.save_hyperparameters()
        if model not in NETWORKS:
            raise UserError(f"--set model={model}: choose one of {', '.join(NETWORKS)}")
        options = {"widths": tuple(widths)} if widths else {}
        if model == "airbench":
            options["identity_init"] = identity_init
        self.net = NETWORKS[model](num_classes, **options)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    @classmethod
    def build(cls, X, y, total_steps, **params):
        """Normalisation statistics (and whitening filters) from this fold's training images."""
        mean, std = channel_stats(X)
        module = cls(total_steps=total_steps, mean=mean, std=std, **params)
        if hasattr(module.net, "init_whitening"):
            rows = np.linspace(0, len(X) - 1, min(5000, len(X))).astype(int)
            module.net.init_whitening(module.normalize(torch.from_numpy(np.asarray(X[rows]))))
        return module

    def setup(self, stage):
        """torch.compile the network once, when it trains (the fold's predictions reuse it), on any
        device; without a compiler, one warning and eager mode. A model loaded to predict again runs
        eagerly: compiling every fold model of a run costs more than it saves on one test set."""
        if not self.hparams.compile or getattr(self, "compiled", False) or self.trainer is None or stage != "fit":
            return
        from pipelines.training.trainer import compiler_missing

        missing = compiler_missing(self.trainer.strategy.root_device.type)
        if missing:
            print(f"warning: compile=true, but {missing}: the network runs without torch.compile", file=sys.stderr)
        else:
            self.net.compile()  # in place: the state dict keeps its names
        self.compiled = True

    def configure_callbacks(self):
        return [Lookahead()] if self.hparams.lookahead else []

    def on_train_epoch_start(self):
        whiten = getattr(self.net, "whiten", None)
        if whiten is not None and whiten.bias is not None and self.hparams.whiten_bias_epochs:
            whiten.bias.requires_grad_(self.current_epoch < self.hparams.whiten_bias_epochs)

    def normalize(self, images):
        """uint8 NHWC -> normalised float NCHW (on the module's device: uint8 travels, 4x less to move),
        upsampled to `min_size` when smaller (the networks pool three times: 8 px would vanish)."""
        x = (images.permute(0, 3, 1, 2).float() - self.mean) / self.std
        size = self.hparams.get("min_size") or 0
        if min(x.shape[-2:]) < size:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x

    def forward(self, images):
        return self.net(self.normalize(images))

    def predict_step(self, batch, batch_idx):
        x = self.normalize(batch[0])
        views = tta_views(x, self.hparams.tta, self.hparams.get("mirror", True))
        return sum(torch.softmax(self.net(v).float(), dim=1) for v in views) / len(views)

    def configure_optimizers(self):
        """SGD; biases (BatchNorm shifts, the whitening bias) learn `bias_lr_scale` times faster with
        the same decay per step, as in airbench. With `muon_lr`, convolution filters take Muon steps."""
        hp = self.hparams
        biases = [p for name, p in self.named_parameters() if name.endswith("bias") and p.ndim == 1]
        trained = [p for p in self.parameters() if p.requires_grad]
        filters = [p for p in trained if p.ndim == 4] if hp.muon_lr else []
        taken = {id(p) for p in biases + filters}
        weights = [p for p in trained if id(p) not in taken]
        groups = [{"params": weights, "lr": hp.lr, "weight_decay": hp.weight_decay}]
        if biases:
            groups.append({"params": biases, "lr": hp.lr * hp.bias_lr_scale,
                           "weight_decay": hp.weight_decay / hp.bias_lr_scale})
        if filters:
            groups.append({"params": filters, "lr": hp.muon_lr, "momentum": hp.muon_momentum, "orthogonalize": True})
            optimizer = Muon(groups, lr=hp.lr, momentum=hp.momentum)
        else:
            optimizer = torch.optim.SGD(groups, momentum=hp.momentum, nesterov=True)
        total, warmup = hp.total_steps, max(1, int(hp.warmup * hp.total_steps))

        def schedule(step):
            return step / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class ImageRegressor(RegressionSteps, ImageClassifier):
    """The same networks with one output: a number per image (the standardised target), averaged
    over the test-time views."""

    def __init__(self, num_classes=1, target_mean=0.0, target_std=1.0, **params):
        super().__init__(num_classes=1, **params)
        self.save_hyperparameters()

    @classmethod
    def build(cls, X, y, total_steps, **params):
        return super().build(X, y, total_steps, **cls.target_scale(y), **params)

    def predict_step(self, batch, batch_idx):
        views = tta_views(self.normalize(batch[0]), self.hparams.tta, self.hparams.get("mirror", True))
        return self.unscale(sum(self.net(v).float() for v in views) / len(views))
