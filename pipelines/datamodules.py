"""LightningDataModules over in-memory arrays."""
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset


def _tensor(array, dtype=torch.float32):
    return torch.as_tensor(np.asarray(array), dtype=dtype)


def batch_loader(dataset, batch_size, shuffle=False, generator=None):
    """Whole batches by tensor indexing: one index op per batch instead of one per row."""
    sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


class ArrayDataModule(pl.LightningDataModule):
    """Train / valid / predict loaders over feature matrices and targets."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=256, seed=0):
        super().__init__()
        self.train = TensorDataset(_tensor(X_train), _tensor(y_train))
        self.valid = None if X_valid is None else TensorDataset(_tensor(X_valid), _tensor(y_valid))
        self.batch_size = batch_size
        self.seed = seed

    def train_dataloader(self):
        return batch_loader(self.train, self.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(self.seed))

    def val_dataloader(self):
        return [] if self.valid is None else batch_loader(self.valid, 4096)

    @staticmethod
    def predict_loader(X):
        return batch_loader(TensorDataset(_tensor(X)), 4096)
