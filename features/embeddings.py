"""Frozen-backbone embeddings as a feature step: each image embedded once per backbone, cached on disk.

BackboneEmbedding is a stateless scikit-learn transformer: uint8 NHWC images in, a row per image
out: the backbone's pooled features and its logits for a range of ImageNet classes, averaged
over test-time views (the image, and with views="flip" its mirror). Each embedding is stored
under the sha256 of the image's pixels, so a fold's training rows, its validation rows or a new
test set are looked up, and only images never seen before are computed. The keys are hashed once
per decoded cache and travel with its rows (features.images.KeyedImages), not again per fold.
The store's name covers the backbone, its weights' sha256, the resolution and the views. Images
are resized to the backbone's native resolution when they come at another. Workers that embed at
the same time each add a shard file of their own, so concurrent writers never overwrite each
other.
"""
import contextlib
import hashlib
import json
import time
import uuid

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from features import images as image_cache
from pipelines.core.context import current
from pipelines.core.files import atomic_path

VIEWS = ("none", "flip")
_networks = {}  # (backbone, weights) -> (network, weights id): loaded once per process


def autocast_dtype(device_type):
    """The GPU's autocast type for embedding ("bfloat16" where native, else "float16"); None on a CPU."""
    if device_type == "cpu":
        return None
    import torch

    return "bfloat16" if torch.cuda.is_bf16_supported(including_emulation=False) else "float16"


def image_keys(images):
    """The sha256 of each image's pixels (and shape): kept with a decoded cache's rows
    (features.images.KeyedImages), else computed here."""
    keys = getattr(images, "image_keys", None)
    return keys if keys is not None and len(keys) == len(images) else image_cache.pixel_keys(images)


def backbone(name, weights=""):
    from pipelines.core.devices import torch_device
    from pipelines.training.models.efficientnet import load_backbone

    if (name, weights) not in _networks:
        network, _, weights_id = load_backbone(name, weights or None)
        _networks[name, weights] = network.to(torch_device()), weights_id
    return _networks[name, weights]


CHUNKS = 16  # image keys fall into this many chunks; one process at a time embeds a chunk's missing images


def chunk_of(key):
    return int(key[:4], 16) % CHUNKS


class EmbeddingStore:
    """Embeddings by image key in a folder of shards, each a .npz of keys and vectors written
    atomically by one writer (keys.npy + vectors.npy, the older layout, is read as one more)."""

    def __init__(self, folder):
        self.folder = folder
        self.parts, self.index, self.read = [], {}, set()  # vectors per shard; key -> (shard, row)
        self.refresh()

    def refresh(self):
        """Take in the shards written since the last look (by this process or another)."""
        for keys, vectors in self.shards():
            self._append(keys, vectors)

    def shards(self):
        """(keys, vectors) of each readable shard not read yet; a damaged one is skipped (its images
        are embedded again)."""
        if "keys.npy" not in self.read:
            self.read.add("keys.npy")
            try:  # the older layout: one pair of files
                keys = np.load(self.folder / "keys.npy", allow_pickle=False)
                vectors = np.load(self.folder / "vectors.npy", allow_pickle=False)
                if len(keys) == len(vectors):
                    yield keys, vectors
            except (OSError, ValueError):
                pass
        for path in sorted(self.folder.glob("shard-*.npz")) if self.folder.is_dir() else ():
            if path.name in self.read:
                continue
            self.read.add(path.name)
            try:
                with np.load(path, allow_pickle=False) as shard:
                    keys, vectors = shard["keys"], shard["vectors"]
            except (OSError, ValueError, KeyError):
                continue
            if len(keys) == len(vectors):
                yield keys, vectors

    def _append(self, keys, vectors):
        part = len(self.parts)
        self.parts.append(vectors)
        for row, key in enumerate(keys):
            self.index.setdefault(key, (part, row))

    def missing(self, keys):
        return np.array([row for row, key in enumerate(keys) if key not in self.index], dtype=np.int64)

    def add(self, keys, vectors):
        """Store vectors[i] under keys[i] (once for a key that repeats, as identical images do)."""
        first = {}
        for row, key in enumerate(keys):
            if key not in self.index and key not in first:
                first[key] = row
        if not first:
            return
        rows = list(first.values())
        new_keys = np.array(list(first), dtype="<U64")
        name = f"shard-{uuid.uuid4().hex}.npz"
        with atomic_path(self.folder / name) as temporary, open(temporary, "wb") as handle:
            np.savez(handle, keys=new_keys, vectors=vectors[rows])
        self.read.add(name)
        self._append(new_keys, vectors[rows])

    def lookup(self, keys):
        return np.stack([self.parts[part][row] for part, row in (self.index[key] for key in keys)])


def fill_store(store, keys, missing, compute, model, unit="images", log=print):
    """Store compute(rows) for the `missing` rows once, whatever the processes at it: each chunk of keys
    is computed under a lock of its own (filelock), the chunks another process holds are left for
    last, and what that process stored is not computed again."""
    from filelock import FileLock, Timeout

    from pipelines.core.progress import Pass

    chunks = {}
    for row in missing:
        chunks.setdefault(chunk_of(keys[row]), []).append(row)
    locks = store.folder / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    start, computed = time.perf_counter(), 0
    progress = Pass(f"embedding with {model}", len(missing), unit=unit)
    pending = sorted(chunks)
    for blocking in (False, True):  # first the chunks no one holds, then wait for the others
        waiting = []
        for chunk in pending:
            lock = FileLock(locks / f"chunk-{chunk:02x}.lock")
            try:
                lock.acquire(timeout=-1 if blocking else 0)
            except Timeout:
                waiting.append(chunk)
                continue
            try:
                store.refresh()
                rows = [row for row in chunks[chunk] if keys[row] not in store.index]
                if rows:
                    store.add(keys[rows], compute(rows))
                    computed += len(rows)
            finally:
                lock.release()
            progress.update(len(chunks[chunk]))
        pending = waiting
    progress.close()
    others = len(missing) - computed
    log(f"embedded {computed} {unit} with {model} in {time.perf_counter() - start:.1f}s"
        + (f" ({others} more were embedded by another process meanwhile)" if others else ""))


class Stateless(TransformerMixin, BaseEstimator):
    """A step with nothing to learn: fit keeps nothing, and the step counts as fitted from the start."""

    def fit(self, X, y=None):
        return self

    def __sklearn_is_fitted__(self):
        return True


class BackboneEmbedding(Stateless):
    """[pooled features | logits of ImageNet classes source_classes[0]..source_classes[1]-1] per image
    (the pooled features alone when source_classes is None)."""

    def __init__(self, backbone="lite0", weights="", views="flip", source_classes=None, batch_size=None):
        self.backbone = backbone
        self.weights = weights
        self.views = views
        self.source_classes = source_classes
        self.batch_size = batch_size

    def requirements(self):
        """Distributions transform reads that loading this step does not import: the backbone's weights
        package (none for a weights file or the tiny network) and the store's locks."""
        from pipelines.training.models.efficientnet import WEIGHT_PACKAGES

        weights = [] if self.weights or self.backbone not in WEIGHT_PACKAGES else [WEIGHT_PACKAGES[self.backbone][2]]
        return [*weights, "filelock"]

    def store_name(self, weights_id, resolution, device="cpu"):
        """The store of this backbone, weights, resolution, views and classes; on a GPU also of the
        device and its precision (bf16 or fp16 embeddings differ from a CPU's fp32 ones)."""
        classes = None if self.source_classes is None else list(self.source_classes)
        spec = [self.backbone, weights_id, resolution, self.views, classes]
        if device != "cpu":
            spec += [device, autocast_dtype(device)]
        return f"{self.backbone}-{hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]}"

    def transform(self, X, log=print):
        network, weights_id = backbone(self.backbone, self.weights)
        device = next(network.parameters()).device.type
        store = EmbeddingStore(current().cache_dir / "embeddings" /
                               self.store_name(weights_id, network.resolution, device))
        keys = image_keys(X)
        if len(store.missing(keys)):
            # the whole decoded cache these rows came from: every fold and worker needs the same images, so
            # they share the work chunk by chunk instead of each embedding its own rows
            whole = getattr(X, "source", None)
            images = whole if whole is not None and len(image_keys(whole)) else X
            every = image_keys(images)
            self.embed_missing(network, store, every, images, store.missing(every), log)
        return store.lookup(keys)

    def embed_missing(self, network, store, keys, images, missing, log=print):
        fill_store(store, keys, missing, lambda rows: self.embed(network, np.asarray(images[rows])),
                   self.backbone, "images", log)

    def embed(self, network, images):
        import torch

        from pipelines.training.models.efficientnet import PIXEL_MEAN, PIXEL_STD

        if self.views not in VIEWS:
            raise ValueError(f"views={self.views!r}: choose one of {', '.join(VIEWS)}")
        device = next(network.parameters()).device
        first, stop = self.source_classes or (0, 0)
        # a CPU: channels_last batches of 16 (about 2x faster than NCHW batches of 64 on 2 cores); a GPU:
        # batches of 128 under autocast, the results kept there until the end (no sync per batch)
        size = self.batch_size or (16 if device.type == "cpu" else 128)
        dtype = autocast_dtype(device.type)
        batches = range(0, len(images), size)
        chunks = []
        autocast = torch.autocast(device.type, dtype=getattr(torch, dtype)) if dtype else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            for start in batches:
                batch = np.array(images[start:start + size])
                if len(batch) < size:  # whole batches only: an image's numbers never depend on how many came with it
                    batch = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])
                x = torch.from_numpy(batch).to(device, non_blocking=True)
                x = (x.permute(0, 3, 1, 2).float() - PIXEL_MEAN) / PIXEL_STD
                if x.shape[-1] != network.resolution:
                    x = torch.nn.functional.interpolate(x, size=(network.resolution, network.resolution),
                                                        mode="bilinear", antialias=True, align_corners=False)
                x = x.contiguous(memory_format=torch.channels_last)
                views = [x, torch.flip(x, dims=[3])] if self.views == "flip" else [x]
                outputs = []
                for view in views:
                    features = network.features(view)
                    logits = network.classifier(features)[:, first:stop] if stop else features[:, :0]
                    outputs.append(torch.cat([features, logits], dim=1))
                chunks.append((sum(outputs) / len(outputs)).float())
        return torch.cat(chunks)[:len(images)].cpu().numpy() if chunks else np.zeros((0, 0), np.float32)
