"""Fine-tuning a pretrained EfficientNet-Lite: the last blocks train, the rest stays frozen.

The frozen trunk runs without gradients and keeps its BatchNorm statistics (eval mode), so
only the tail (the last `unfreeze` blocks and the head convolution) pays for backward. A new
classifier of the competition's classes starts at zero; when they are ImageNet classes
(`source_classes`, a range of ImageNet's), it starts instead as the pretrained classifier's rows
of the source classes each target class is assigned to (as in head.py), so training begins from
the zero-shot predictions. FineTunedRegressor gives one number per image. The backbone tail
learns at `backbone_lr_scale` times the head's rate. Drop connect in the
tail draws from torch's random state, which the engine seeds per fold from --seed.
"""
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from pipelines.core.errors import UserError
from pipelines.training.models.classification import ClassificationSteps, RegressionSteps
from pipelines.training.models.efficientnet import PIXEL_MEAN, PIXEL_STD, load_backbone
from pipelines.training.models.head import assign_source_classes

# the frozen trunk is in eval mode on purpose (see train())
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training")


class FineTunedBackbone(ClassificationSteps, pl.LightningModule):
    restore_kwargs = {"pretrained": False}  # a checkpoint holds every weight: no weights file needed to load it

    def __init__(self, n_classes, source_classes=None, backbone="lite0", weights="", unfreeze=5, lr=1e-3,
                 backbone_lr_scale=0.1, weight_decay=1e-2, label_smoothing=0.1, dropout=0.2, warmup=0.1,
                 total_steps=1000, assignment=None, pretrained=True, resolution=None, mirror=True):
        super().__init__()
        self.save_hyperparameters(ignore=["assignment", "pretrained"])
        self.net, _, _ = load_backbone(backbone, weights or None, pretrained=pretrained)
        blocks = len(self.net.blocks)
        if not 0 <= unfreeze <= blocks:
            raise UserError(f"--set unfreeze={unfreeze}: this backbone has {blocks} blocks; choose 0 to {blocks}")
        self.first_trained = blocks - unfreeze
        for parameter in self.net.parameters():
            parameter.requires_grad = False
        for module in self.tail_modules():
            for parameter in module.parameters():
                parameter.requires_grad = True
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.net.classifier.in_features, n_classes)
        nn.init.zeros_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)
        if assignment is not None:
            self.start_from_source(assignment)

    def tail_modules(self):
        return [*self.net.blocks[self.first_trained:], self.net.head]

    def start_from_source(self, assignment):
        """Classifier rows = the pretrained rows of each class's assigned source class."""
        rows = torch.as_tensor(self.hparams.source_classes[0] + np.asarray(assignment))
        with torch.no_grad():
            self.classifier.weight.copy_(self.net.classifier.weight[rows])
            self.classifier.bias.copy_(self.net.classifier.bias[rows])

    @classmethod
    def build(cls, X, y, total_steps, sample_per_class=8, **params):
        """Assign source classes from the zero-shot logits of a few training images per class."""
        module = cls(total_steps=total_steps, **params)
        if module.hparams.source_classes is None:
            return module
        labels = np.asarray(y).astype(int)
        rng = np.random.default_rng(0)
        rows = np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:sample_per_class]
                                       for k in np.unique(labels)]))
        first, stop = params["source_classes"]
        from pipelines.core.devices import torch_device

        device, logits = torch_device(), []
        module.to(device)  # the zero-shot pass on the device that trains (a GPU when there is one)
        with torch.inference_mode():
            for start in range(0, len(rows), 32):
                features = module.features(torch.from_numpy(np.asarray(X[rows[start:start + 32]])).to(device))
                logits.append(module.net.classifier(features)[:, first:stop].cpu())
        module.start_from_source(assign_source_classes(torch.cat(logits), labels[rows], params["n_classes"]))
        return module.cpu()

    def train(self, mode=True):
        super().train(mode)
        self.net.eval()  # frozen BatchNorm statistics and no drop connect in the trunk...
        for module in self.tail_modules():
            module.train(mode)  # ...while the tail trains normally
        return self

    def features(self, images):
        """uint8 NHWC -> pooled features at `resolution` (0: the backbone's native one, at which its
        weights were trained; None, as checkpoints from before it have: the images' own); the trunk
        runs without gradients."""
        x = (images.permute(0, 3, 1, 2).float() - PIXEL_MEAN) / PIXEL_STD
        size = self.hparams.get("resolution")
        size = self.net.resolution if size == 0 else size
        if size and (x.shape[-1] != size or x.shape[-2] != size):
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            x = self.net.trunk(x, self.first_trained)
        return self.net.tail(x, self.first_trained)

    def forward(self, images):
        return self.classifier(self.dropout(self.features(images)))

    def views(self, images):
        """The test-time views: the image and its mirror (NHWC: dim 2 is the width), unless mirroring
        does not keep the label (digits, text)."""
        return (images, torch.flip(images, dims=[2])) if self.hparams.get("mirror", True) else (images,)

    def predict_step(self, batch, batch_idx):
        views = self.views(batch[0])
        return sum(torch.softmax(self(view).double(), dim=1) for view in views) / len(views)

    def configure_optimizers(self):
        tail = [p for module in self.tail_modules() for p in module.parameters()]
        lr = self.hparams.lr
        groups = [{"params": self.classifier.parameters(), "lr": lr},
                  {"params": tail, "lr": lr * self.hparams.backbone_lr_scale}]
        optimizer = torch.optim.AdamW(groups, weight_decay=self.hparams.weight_decay)
        total = self.hparams.total_steps
        warmup = min(0.5, max(self.hparams.warmup, 2 / total))  # OneCycleLR needs a warm-up of 2+ steps
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, [group["lr"] for group in groups], total_steps=total, pct_start=warmup)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class FineTunedRegressor(RegressionSteps, FineTunedBackbone):
    """One output: a number per image (the standardised target), averaged over the image and its mirror."""

    def __init__(self, n_classes=1, target_mean=0.0, target_std=1.0, **params):
        params.pop("source_classes", None)  # a number has no ImageNet class to start from
        super().__init__(n_classes=1, **params)
        self.save_hyperparameters(ignore=["assignment", "pretrained"])

    @classmethod
    def build(cls, X, y, total_steps, **params):
        return cls(total_steps=total_steps, **cls.target_scale(y), **params)

    def predict_step(self, batch, batch_idx):
        views = self.views(batch[0])
        return self.unscale(sum(self(view).float() for view in views) / len(views))
