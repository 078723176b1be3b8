"""Image augmentations: batched tensor ops on uint8 NHWC batches (any device), albumentations
pipelines for per-image work, and test-time views.

The batched ops are a handful of tensor operations per batch, whatever its size, on the device
the images live on (airbench's way, github KellerJordan/airbench): a mirror, a translation by up
to `shift` pixels with reflected borders, and cutout. Their randomness comes from an explicit
torch.Generator, so a seed reproduces them.
"""
import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no update check at import

import albumentations as A
import torch


def mirror(images, mask):
    """Images (NHWC) flipped left-right where `mask` (N bools) is set."""
    return torch.where(mask.view(-1, 1, 1, 1), images.flip(2), images)


def _reflect(index, size):
    index = index.abs()
    return torch.where(index >= size, 2 * (size - 1) - index, index)


def translate(images, shift, generator):
    """Each image moved by its own random offset of up to `shift` pixels each way, the border
    reflected (as a random crop of a reflect-padded image): one gather for the whole batch."""
    n, height, width = images.shape[:3]
    device = images.device
    dy = torch.randint(-shift, shift + 1, (n, 1), generator=generator, device=device)
    dx = torch.randint(-shift, shift + 1, (n, 1), generator=generator, device=device)
    rows = _reflect(torch.arange(height, device=device) + dy, height)
    columns = _reflect(torch.arange(width, device=device) + dx, width)
    return images[torch.arange(n, device=device).view(-1, 1, 1), rows[:, :, None], columns[:, None, :]]


def cutout(images, size, generator):
    """A size x size square (clipped at the border) set to zero at a random centre of each image."""
    n, height, width = images.shape[:3]
    device = images.device
    top = torch.randint(0, height, (n, 1), generator=generator, device=device) - size // 2
    left = torch.randint(0, width, (n, 1), generator=generator, device=device) - size // 2
    ys, xs = torch.arange(height, device=device), torch.arange(width, device=device)
    inside = ((ys >= top) & (ys < top + size))[:, :, None] & ((xs >= left) & (xs < left + size))[:, None, :]
    return images.masked_fill(inside[..., None], 0)


class BatchAugment:
    """Augments the batches of one training run. Mirroring alternates: every image gets a random
    orientation in epoch 0 and the other one each epoch after, so each epoch sees every image
    mirrored once in two (more variety than flipping at random each epoch)."""

    def __init__(self, n_images, generator, mirrored=True, shift=2, cutout_size=0):
        self.generator, self.shift, self.cutout_size = generator, shift, cutout_size
        self.mirrored = mirrored
        self.first_orientation = torch.rand(n_images, generator=generator, device=generator.device) < 0.5

    def __call__(self, images, indices, epoch):
        if self.mirrored:
            images = mirror(images, self.first_orientation[indices] ^ bool(epoch % 2))
        if self.shift:
            images = translate(images, self.shift, self.generator)
        if self.cutout_size:
            images = cutout(images, self.cutout_size, self.generator)
        return images


def cifar_train_transform(size=32, pad=4, cutout=8, mirror=True):
    """Per image (albumentations): pad + random crop, horizontal flip (with `mirror`), coarse dropout of one hole."""
    steps = [
        A.PadIfNeeded(size + 2 * pad, size + 2 * pad, border_mode=0),  # zero padding as in the reference recipes
        A.RandomCrop(size, size),
        *([A.HorizontalFlip(p=0.5)] if mirror else []),
    ]
    if cutout:
        steps.append(A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(cutout // 2, cutout),
                                     hole_width_range=(cutout // 2, cutout), fill=0, p=0.5))
    return A.Compose(steps)


def finetune_train_transform(size, scale=(0.35, 1.0), jitter=0.3, mirror=True):
    """Random resized crop, horizontal flip (with `mirror`) and colour jitter for fine-tuning a pretrained backbone."""
    return A.Compose([
        A.RandomResizedCrop(size=(size, size), scale=scale),
        *([A.HorizontalFlip(p=0.5)] if mirror else []),
        A.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=0.05, p=0.8),
    ])


def tta_views(x, level, mirror=True):
    """Test-time views of a float NCHW batch: 0 none, 1 + flip, 2 + flip and 2-pixel translations;
    without `mirror` (digits, letters, text) nothing is flipped."""
    def flip(view):
        return torch.flip(view, dims=[3]) if mirror else view

    views = [x]
    if level >= 1 and mirror:  # unmirrored, this view would be the image again
        views.append(torch.flip(x, dims=[3]))
    if level >= 2:
        padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
        height, width = x.shape[2:]
        views.append(padded[:, :, :height, :width])
        views.append(flip(padded[:, :, 4:4 + height, 4:4 + width]))
    return views
