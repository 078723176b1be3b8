"""LightningDataModules over in-memory arrays."""
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)


def _tensor(array, dtype=torch.float32):
    if hasattr(array, "toarray"):  # a sparse one-hot of a large table (features.tabular.SparseWhenLarge)
        array = array.toarray()
    return torch.as_tensor(np.asarray(array), dtype=dtype)


def _targets(y):
    """Class indices as long, numbers (a regression's) as float32."""
    y = np.asarray(y)
    return torch.as_tensor(y, dtype=torch.long if np.issubdtype(y.dtype, np.integer) else torch.float32)


def batch_loader(dataset, batch_size, shuffle=False, generator=None, drop_last=False):
    """Whole batches by tensor indexing: one index op per batch instead of one per row."""
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=drop_last), batch_size=None)


class Rows(Dataset):
    """Rows of an array (a read-only memory-mapped image cache too) a batch at a time: only the
    batch is copied, never the whole set. With `pad_to`, a short last batch repeats its last row
    up to that size, so a compiled network sees one shape (the caller drops the extra rows)."""

    def __init__(self, X, pad_to=None):
        self.X, self.pad_to = X, pad_to

    def __len__(self):
        return len(self.X)

    def __getitem__(self, rows):
        rows = list(rows)
        if self.pad_to and len(rows) < self.pad_to:
            rows += rows[-1:] * (self.pad_to - len(rows))
        contiguous = rows == list(range(rows[0], rows[0] + len(rows)))
        batch = self.X[rows[0]:rows[0] + len(rows)] if contiguous else self.X[rows]
        return (torch.from_numpy(np.array(batch)),)


def rows_loader(X, batch_size, pad=False):
    """Batches of X's rows in order (pinned for a GPU), padded to `batch_size` with `pad`."""
    dataset = Rows(X, batch_size if pad else None)
    return DataLoader(dataset, sampler=BatchSampler(SequentialSampler(dataset), batch_size, drop_last=False),
                      batch_size=None, pin_memory=torch.cuda.is_available())


class ArrayDataModule(pl.LightningDataModule):
    """Train / valid / predict loaders over feature matrices and targets."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=256):
        super().__init__()
        self.train = TensorDataset(_tensor(X_train), _tensor(y_train))
        self.valid = None if X_valid is None else TensorDataset(_tensor(X_valid), _tensor(y_valid))
        self.batch_size = batch_size
        self.seed = torch.initial_seed()  # the fold's seed, set by the cross-validation engine

    def train_dataloader(self):
        return batch_loader(self.train, self.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return [] if self.valid is None else batch_loader(self.valid, 4096)

    @staticmethod
    def predict_loader(X, batch_size=4096):
        return batch_loader(TensorDataset(_tensor(X)), batch_size)


class AugmentedImages(Dataset):
    """uint8 HWC images through an albumentations transform, one image at a time. In loader
    workers each worker reseeds its copy of the transform (seed_worker), so the workers draw
    different augmentations, reproducibly from the loader's seeded generator."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = self.transform(image=self.images[index])["image"]
        return torch.from_numpy(np.ascontiguousarray(image)), self.labels[index]


def seed_worker(worker_id):
    """A loader worker's own augmentation stream: torch gives each worker base seed + worker id,
    the base seed drawn from the loader's (seeded) generator."""
    info = torch.utils.data.get_worker_info()
    info.dataset.transform.set_random_seed(torch.initial_seed() % 2**32)


class ImageDataModule(pl.LightningDataModule):
    """uint8 NHWC image batches (normalised on the model's device); `transform` (albumentations)
    augments training images one by one, in `num_workers` loader workers."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=256, transform=None,
                 num_workers=0, eval_batch_size=1024, static_batches=False):
        super().__init__()
        seed = torch.initial_seed()
        self.static_batches = static_batches  # whole training batches only (a compiled network: one shape)
        labels = _targets(y_train)
        if transform is None:
            self.train = TensorDataset(torch.from_numpy(np.asarray(X_train)), labels)
        else:
            transform.set_random_seed(seed % 2**32)  # the stream without workers
            self.train = AugmentedImages(np.asarray(X_train), labels, transform)
        self.valid = None if X_valid is None else TensorDataset(torch.from_numpy(np.asarray(X_valid)),
                                                                _targets(y_valid))
        self.batch_size, self.num_workers, self.eval_batch_size = batch_size, num_workers, eval_batch_size
        self.seed = seed

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(self.seed)
        if isinstance(self.train, TensorDataset):
            return batch_loader(self.train, self.batch_size, shuffle=True, generator=generator,
                                drop_last=self.static_batches)
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True, generator=generator, drop_last=True,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          worker_init_fn=seed_worker if self.num_workers else None,
                          pin_memory=torch.cuda.is_available())

    def val_dataloader(self):
        return [] if self.valid is None else batch_loader(self.valid, self.eval_batch_size)

    @staticmethod
    def predict_loader(X, batch_size=256, pad=False):
        return rows_loader(X, batch_size, pad)


class AugmentedBatches:
    """An epoch's training batches from images that stay on one device: a shuffled order, then per
    batch one gather and the batched augmentation (pipelines/training/augment.py), all on that device."""

    def __init__(self, images, labels, batch_size, augment):
        self.images, self.labels, self.batch_size, self.augment = images, labels, batch_size, augment
        self.epoch = 0

    def __len__(self):
        return len(self.images) // self.batch_size  # the last, partial batch is left out (BatchNorm)

    def __iter__(self):
        generator = self.augment.generator
        order = torch.randperm(len(self.images), generator=generator, device=generator.device)
        epoch, self.epoch = self.epoch, self.epoch + 1
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = order[start:start + self.batch_size]
            yield self.augment(self.images[indices], indices, epoch), self.labels[indices]


class TensorImageDataModule(pl.LightningDataModule):
    """The training images as one uint8 NHWC tensor on the model's device (moved there once, at
    setup); batches are augmented there by BatchAugment: no per-image work, no loader workers.
    The same code runs on a CPU. Validation and test images travel per batch."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=512, mirrored=True, shift=2,
                 cutout=0, eval_batch_size=1024, static_batches=True):
        super().__init__()  # training batches are always whole here (BatchNorm); static_batches: see predict
        self.images = torch.from_numpy(np.array(X_train))  # a copy: image caches are read-only memory maps
        self.labels = _targets(y_train)
        self.valid = None if X_valid is None else TensorDataset(torch.from_numpy(np.array(X_valid)),
                                                                _targets(y_valid))
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.augment_options = {"mirrored": mirrored, "shift": shift, "cutout_size": cutout}
        self.seed = torch.initial_seed()  # the fold's seed, set by the cross-validation engine
        self.batches = None

    def setup(self, stage=None):
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.images, self.labels = self.images.to(device), self.labels.to(device)
        generator = torch.Generator(device=device).manual_seed(self.seed)
        from pipelines.training.augment import BatchAugment

        self.batches = AugmentedBatches(self.images, self.labels, self.batch_size,
                                        BatchAugment(len(self.images), generator, **self.augment_options))

    def train_dataloader(self):
        if self.batches is None:  # asked for its length before fitting
            return range(len(self.images) // self.batch_size)
        return self.batches

    def val_dataloader(self):
        return [] if self.valid is None else batch_loader(self.valid, self.eval_batch_size)

    @staticmethod
    def predict_loader(X, batch_size=1024, pad=False):
        return rows_loader(X, batch_size, pad)


class Texts(Dataset):
    """Raw texts (and their targets) a batch at a time: the module tokenises each batch itself."""

    def __init__(self, texts, targets=None):
        self.texts, self.targets = np.asarray(texts, dtype=object), targets

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, rows):
        rows = list(rows)
        texts = [str(text) for text in self.texts[rows]]
        return (texts,) if self.targets is None else (texts, self.targets[rows])


class LengthBuckets(torch.utils.data.Sampler):
    """Batches of similar lengths in a random order: the rows shuffled, cut into buckets of `bucket`
    batches, each bucket sorted by length and cut into batches, the batches shuffled. Padding each batch
    to its longest text then wastes little, while every epoch still mixes the rows."""

    def __init__(self, lengths, batch_size, generator, bucket=50):
        self.lengths, self.batch_size, self.generator, self.bucket = np.asarray(lengths), batch_size, generator, bucket

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).numpy()
        size = self.batch_size * self.bucket
        batches = []
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        for index in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[index]


class TextDataModule(pl.LightningDataModule):
    """Raw texts in batches of similar length (LengthBuckets, by characters) for a module that
    tokenises them; validation and prediction batches in the rows' order."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=32, eval_batch_size=128):
        super().__init__()
        self.train = Texts(X_train, _targets(y_train))
        self.valid = None if X_valid is None else Texts(X_valid, _targets(y_valid))
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.seed = torch.initial_seed()  # the fold's seed, set by the cross-validation engine

    def train_dataloader(self):
        lengths = [len(str(text)) for text in self.train.texts]
        sampler = LengthBuckets(lengths, self.batch_size, torch.Generator().manual_seed(self.seed))
        return DataLoader(self.train, sampler=sampler, batch_size=None)

    def val_dataloader(self):
        return [] if self.valid is None else self.predict_loader(self.valid.texts, self.eval_batch_size, self.valid)

    @staticmethod
    def predict_loader(X, batch_size=128, dataset=None):
        dataset = dataset or Texts(X)
        return DataLoader(dataset, sampler=BatchSampler(SequentialSampler(dataset), batch_size, drop_last=False),
                          batch_size=None)
