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
    return torch.as_tensor(np.asarray(array), dtype=dtype)


def batch_loader(dataset, batch_size, shuffle=False, generator=None):
    """Whole batches by tensor indexing: one index op per batch instead of one per row."""
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


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
    """uint8 HWC images through an albumentations transform, one image at a time."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = self.transform(image=self.images[index])["image"]
        return torch.from_numpy(np.ascontiguousarray(image)), self.labels[index]


class ImageDataModule(pl.LightningDataModule):
    """uint8 NHWC image batches (normalised on the model's device); `transform` augments training images."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=256, transform=None,
                 num_workers=0, eval_batch_size=1024):
        super().__init__()
        seed = torch.initial_seed()
        labels = torch.as_tensor(y_train, dtype=torch.long)
        if transform is None:
            self.train = TensorDataset(torch.from_numpy(np.asarray(X_train)), labels)
        else:
            transform.set_random_seed(seed % 2**32)
            self.train = AugmentedImages(np.asarray(X_train), labels, transform)
        self.valid = None if X_valid is None else TensorDataset(torch.from_numpy(np.asarray(X_valid)),
                                                                torch.as_tensor(y_valid, dtype=torch.long))
        self.batch_size, self.num_workers, self.eval_batch_size = batch_size, num_workers, eval_batch_size
        self.seed = seed

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(self.seed)
        if isinstance(self.train, TensorDataset):
            return batch_loader(self.train, self.batch_size, shuffle=True, generator=generator)
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True, generator=generator, drop_last=True,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        return [] if self.valid is None else batch_loader(self.valid, self.eval_batch_size)

    @staticmethod
    def predict_loader(X, batch_size=256):
        return batch_loader(TensorDataset(torch.from_numpy(np.array(X))), batch_size)  # a copy: caches are read-only
