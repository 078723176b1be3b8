"""LightningDataModules over in-memory arrays."""
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


def _tensor(array, dtype=torch.float32):
    return torch.as_tensor(np.asarray(array), dtype=dtype)


class ArrayDataModule(pl.LightningDataModule):
    """Train / valid / predict loaders over feature matrices and targets."""

    def __init__(self, X_train, y_train, X_valid=None, y_valid=None, batch_size=256, seed=0):
        super().__init__()
        self.train = TensorDataset(_tensor(X_train), _tensor(y_train))
        self.valid = None if X_valid is None else TensorDataset(_tensor(X_valid), _tensor(y_valid))
        self.batch_size = batch_size
        self.seed = seed

    def train_dataloader(self):
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True, generator=generator)

    def val_dataloader(self):
        return [] if self.valid is None else DataLoader(self.valid, batch_size=4096)

    @staticmethod
    def predict_loader(X):
        return DataLoader(TensorDataset(_tensor(X)), batch_size=4096)
