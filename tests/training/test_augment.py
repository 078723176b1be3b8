"""Batched augmentation on tensors (any device; tested on CPU) and per-image loader workers."""
import numpy as np
import torch

from pipelines.training.augment import BatchAugment, cifar_train_transform, cutout, mirror, translate
from pipelines.training.datamodules import AugmentedBatches, ImageDataModule, TensorImageDataModule


def images(n=6, size=8, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(1, 256, (n, size, size, 3), dtype=np.uint8))


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_mirror_flips_exactly_the_masked_images():
    x = images()
    mask = torch.tensor([True, False, True, False, False, True])
    out = mirror(x, mask)
    for i in range(6):
        assert torch.equal(out[i], x[i].flip(1) if mask[i] else x[i])


def test_translate_moves_each_image_within_the_shift_with_reflected_borders():
    x = images()
    out = translate(x, 2, generator())
    padded = np.pad(x.numpy(), ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    offsets = set()
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(out[i].numpy(), padded[i, dy:dy + 8, dx:dx + 8])]
        assert found, f"image {i} is not a reflected translation of its input"
        offsets.add(found[0])
    assert len(offsets) > 1  # each image draws its own offset
    assert torch.equal(translate(x, 0, generator()), x)


def test_cutout_zeroes_one_square_per_image():
    x = images(n=20, size=16)
    out = cutout(x, 4, generator())
    for before, after in zip(x, out):
        zeroed = (after == 0).all(dim=2)
        assert 0 < zeroed.sum() <= 16
        rows, columns = np.nonzero(zeroed.numpy())
        assert rows.max() - rows.min() < 4 and columns.max() - columns.min() < 4
        assert torch.equal(after[~zeroed], before[~zeroed])


def test_mirrors_alternate_between_epochs_and_follow_the_seed():
    x = images(n=8)
    indices = torch.arange(8)
    augment = BatchAugment(8, generator(), mirrored=True, shift=0)
    first, second = augment(x, indices, epoch=0), augment(x, indices, epoch=1)
    assert all(torch.equal(second[i], first[i].flip(1)) for i in range(8))  # the other orientation next epoch
    again = BatchAugment(8, generator(), mirrored=True, shift=2, cutout_size=3)
    other = BatchAugment(8, generator(1), mirrored=True, shift=2, cutout_size=3)
    same = BatchAugment(8, generator(), mirrored=True, shift=2, cutout_size=3)
    assert torch.equal(again(x, indices, 0), same(x, indices, 0))
    assert not torch.equal(again(x, indices, 0), other(x, indices, 0))


def test_tensor_batches_cover_the_shuffled_images_once_an_epoch():
    x = images(n=10)
    labels = torch.arange(10)
    batches = AugmentedBatches(x, labels, 4, BatchAugment(10, generator(), mirrored=False, shift=0))
    assert len(batches) == 2  # the partial batch is left out
    seen = torch.cat([y for _, y in batches])
    assert len(seen) == 8 and len(set(seen.tolist())) == 8 and seen.tolist() != list(range(8))
    for images_batch, labels_batch in batches:
        assert all(torch.equal(images_batch[k], x[labels_batch[k]]) for k in range(4))  # images and labels agree

    module = TensorImageDataModule(x.numpy(), labels.numpy(), batch_size=4)
    assert len(module.train_dataloader()) == 2  # before setup (total steps are counted then)
    module.setup("fit")  # without a trainer the images stay on the CPU
    assert module.images.device.type == "cpu" and len(list(module.train_dataloader())) == 2


def test_loader_workers_draw_their_own_reproducible_augmentations():
    """Identical images: any difference between batches comes from the augmentation stream."""
    same = np.repeat(np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8), 64, axis=0)
    labels = np.zeros(64)

    def epoch(seed):
        torch.manual_seed(seed)
        module = ImageDataModule(same, labels, batch_size=8, transform=cifar_train_transform(), num_workers=2)
        return [batch[0].clone() for batch in module.train_dataloader()]

    batches = epoch(0)
    # workers alternate batches: 0, 1, 0, 1... Each worker's stream differs from the other's
    assert not any(torch.equal(batches[k], batches[k + 1]) for k in range(0, len(batches), 2))
    assert all(torch.equal(a, b) for a, b in zip(batches, epoch(0)))  # the same seed, the same augmentations
    assert not all(torch.equal(a, b) for a, b in zip(batches, epoch(1)))
