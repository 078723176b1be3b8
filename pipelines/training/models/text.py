"""Fine-tuning a pretrained text encoder (any local Hugging Face folder: MiniLM, DeBERTa-v3, ...) with
a new head: the classes' logits, or one number.

Batches arrive as raw texts; the module tokenises them itself (the `tokenizers` library, as fast as
the field's own loaders) and pads each batch only to its longest text, so short tweets cost little.
The head reads the mean of the encoder's token states over each text's tokens. AdamW without decay
on biases and norms; a linear warm-up over `warmup` of the steps, then linear decay to zero
(transformers' schedule); with `layer_decay` < 1 each layer below the top learns that much slower
(layer-wise learning rates; the embeddings at lr * layer_decay ** layers). The checkpoint holds every
weight, the encoder's configuration and the tokenizer, so predicting needs the run folder only, not
the model folder it started from.
"""
import re

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from pipelines.training.encoders import model_folder
from pipelines.training.models.classification import ClassificationSteps, RegressionSteps


def load_tokenizer(folder):
    """The folder's fast tokenizer (converted from a slow one where transformers can), its pad id and the
    most tokens the model reads (the tokenizer's model_max_length where it sets one: RoBERTa's 514
    positions hold 512 tokens)."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    positions = AutoConfig.from_pretrained(str(folder)).max_position_embeddings
    longest = min(positions, tokenizer.model_max_length) if tokenizer.model_max_length < 10**6 else positions
    return tokenizer.backend_tokenizer, pad, int(longest)


class FineTunedText(ClassificationSteps, pl.LightningModule):
    restore_kwargs = {"pretrained": False}  # the checkpoint holds every weight and the tokenizer

    def __init__(self, n_classes, model="", max_length=256, lr=5e-5, head_lr_scale=20.0, weight_decay=0.01,
                 warmup=0.1, layer_decay=1.0, dropout=0.1, label_smoothing=0.0, total_steps=1000,
                 encoder_config=None, pad_id=0, longest=0, pretrained=True):
        super().__init__()
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging

        logging.set_verbosity_error()  # a pooler left unused is no news
        if pretrained:
            folder = model_folder(model)  # empty: the packaged all-MiniLM-L6-v2
            self.encoder = AutoModel.from_pretrained(str(folder))
            self.tokenizer, pad_id, longest = load_tokenizer(folder)
            encoder_config = self.encoder.config.to_dict()
        else:
            self.encoder = AutoModel.from_config(AutoConfig.for_model(**encoder_config))
            self.tokenizer = None  # on_load_checkpoint brings it
        self.save_hyperparameters(ignore=["pretrained"])  # encoder_config, pad_id and longest as found above
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, n_classes)

    @classmethod
    def build(cls, X, y, total_steps, **params):
        return cls(total_steps=total_steps, **params)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["tokenizer"] = self.tokenizer.to_str()

    def on_load_checkpoint(self, checkpoint):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(checkpoint["tokenizer"])

    def encode(self, texts):
        """Token ids and attention mask of a batch of texts, padded to its longest (cut to max_length)."""
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(min(self.hparams.max_length,
                                             self.hparams.longest or self.encoder.config.max_position_embeddings))
        encodings = self.tokenizer.encode_batch([str(text) for text in texts])
        length = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), length), self.hparams.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)

    def forward(self, texts):
        ids, mask = self.encode(texts)
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))

    def predict_step(self, batch, batch_idx):
        return torch.softmax(self(batch[0]).double(), dim=1)

    @staticmethod
    def depth(name, layers):
        """0 for the embeddings, i + 1 for the i-th layer, `layers` for what sits above them (norms, pooler)."""
        if "embeddings" in name:
            return 0
        found = re.search(r"\.(\d+)\.", name)
        return min(int(found.group(1)) + 1, layers) if found else layers

    def configure_optimizers(self):
        from transformers import get_linear_schedule_with_warmup

        lr, decay, layers = self.hparams.lr, self.hparams.layer_decay, self.encoder.config.num_hidden_layers
        groups = {}
        for name, parameter in self.encoder.named_parameters():
            no_decay = parameter.ndim < 2  # biases and norms
            rate = lr * decay ** (layers - self.depth(name, layers))  # the top layer at lr
            groups.setdefault((rate, no_decay), []).append(parameter)
        params = [{"params": found, "lr": rate, "weight_decay": 0.0 if no_decay else self.hparams.weight_decay}
                  for (rate, no_decay), found in groups.items()]
        params.append({"params": self.head.parameters(), "lr": lr * self.hparams.head_lr_scale, "weight_decay": 0.0})
        optimizer = torch.optim.AdamW(params)
        total = max(1, self.hparams.total_steps)
        schedule = get_linear_schedule_with_warmup(optimizer, int(self.hparams.warmup * total), total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class FineTunedTextRegressor(RegressionSteps, FineTunedText):
    """One output: a number per text (the standardised target)."""

    def __init__(self, n_classes=1, target_mean=0.0, target_std=1.0, **params):
        super().__init__(n_classes=1, **params)
        self.save_hyperparameters({"target_mean": target_mean, "target_std": target_std})

    @classmethod
    def build(cls, X, y, total_steps, **params):
        return cls(total_steps=total_steps, **cls.target_scale(y), **params)

    def predict_step(self, batch, batch_idx):
        return self.unscale(self(batch[0]).float())
