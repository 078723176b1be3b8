"""Image augmentations (albumentations) and test-time views."""
import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no update check at import

import albumentations as A
import torch


def cifar_train_transform(size=32, pad=4, cutout=8):
    """Pad + random crop, horizontal flip, coarse dropout (cutout) of one hole up to `cutout` px."""
    steps = [
        A.PadIfNeeded(size + 2 * pad, size + 2 * pad, border_mode=0),  # zero padding as in the reference recipes
        A.RandomCrop(size, size),
        A.HorizontalFlip(p=0.5),
    ]
    if cutout:
        steps.append(A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(cutout // 2, cutout),
                                     hole_width_range=(cutout // 2, cutout), fill=0, p=0.5))
    return A.Compose(steps)


def finetune_train_transform(size, scale=(0.35, 1.0), jitter=0.3):
    """Random resized crop, horizontal flip and colour jitter for fine-tuning a pretrained backbone."""
    return A.Compose([
        A.RandomResizedCrop(size=(size, size), scale=scale),
        A.HorizontalFlip(p=0.5),
        A.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=0.05, p=0.8),
    ])


def tta_views(x, level):
    """Test-time views of a float NCHW batch: 0 none, 1 + flip, 2 + flip and 2-pixel translations."""
    views = [x]
    if level >= 1:
        views.append(torch.flip(x, dims=[3]))
    if level >= 2:
        padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
        height, width = x.shape[2:]
        views.append(padded[:, :, :height, :width])
        views.append(torch.flip(padded[:, :, 4:4 + height, 4:4 + width], dims=[3]))
    return views
