"""Competition images, from a folder or an archive, decoded once into a uint8 array cache.

The cache is a memory-mapped .npy of shape (N, H, W, 3) beside a JSON manifest that
records what it was built from (the source's names, sizes and modification times, the
ids in order, the decode size and resize mode). A change to any of those rebuilds it; nothing
is decoded per epoch. Any mode (grayscale, palette, RGBA, 16-bit) becomes RGB; a decode size
fits every image to size x size: "crop" (aspect kept, shorter side to size, centre crop), "pad"
(aspect kept, longer side to size, black borders) or "stretch" (both sides to size).
"""
import hashlib
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from features.archives import ARCHIVE_SUFFIXES, Archive
from pipelines.core.context import current
from pipelines.core.errors import UserError
from pipelines.core.files import atomic_path, write_text
from pipelines.core.progress import Pass

CACHE_VERSION = 1
RESIZE = ("crop", "pad", "stretch")


def pixel_keys(images):
    """The sha256 of each image's pixels (and shape): the key of its embeddings."""
    images = np.asarray(images)
    shape = ",".join(map(str, images.shape[1:])).encode()
    return np.array([hashlib.sha256(shape + memoryview(np.ascontiguousarray(image)).cast("B")).hexdigest()
                     for image in images], dtype="<U64")


class KeyedImages(np.ndarray):
    """Images (N, H, W, 3) that carry each row's pixel key, hashed once per decoded cache: selecting
    rows (a fold's, X[rows]) keeps theirs, and the whole cache they came from (`source`), so a
    feature step that caches per image can do a whole cache's work at once, shared by every fold and
    worker. Any other result (one image, a computed array) is a plain array without keys, so a key
    never outlives the pixels it was computed from."""

    def __new__(cls, images, keys):
        array = np.asanyarray(images).view(cls)
        array.image_keys = np.asarray(keys)
        array.source = array
        return array

    def __array_finalize__(self, obj):
        self.image_keys, self.source = None, None  # set only by __new__ and row selection

    def __getitem__(self, index):
        result = super().__getitem__(index)
        if not isinstance(result, KeyedImages):
            return result
        rows = np.asarray(index) if isinstance(index, list) else index
        if self.image_keys is None or result.ndim != self.ndim or not (
                isinstance(rows, slice) or (isinstance(rows, np.ndarray) and rows.ndim == 1)):
            return result.view(np.ndarray)
        result.image_keys = self.image_keys[rows]
        result.source = self.source
        return result


def keyed(array_path):
    """The cache at `array_path`, memory-mapped, with its pixel keys (hashed on first use, then kept)."""
    images = np.load(array_path, mmap_mode="r")
    keys_path = array_path.with_suffix(".keys.npy")
    try:
        keys = np.load(keys_path, allow_pickle=False)
    except (OSError, ValueError):
        keys = None
    if keys is None or len(keys) != len(images):
        keys = pixel_keys(images)
        with atomic_path(keys_path) as temporary, open(temporary, "wb") as handle:
            np.save(handle, keys)
    return KeyedImages(images, keys)


class ImageSource:
    """The images of one split: `<split>/` or `<split>.zip` / `<split>.7z` in the data folder."""

    def __init__(self, data_dir, split):
        data_dir = Path(data_dir)
        self.folder = data_dir / split if (data_dir / split).is_dir() else None
        self.archive_path = next((data_dir / f"{split}{s}" for s in ARCHIVE_SUFFIXES
                                  if (data_dir / f"{split}{s}").is_file()), None)
        if self.folder is None and self.archive_path is None:
            raise UserError(f"{data_dir} has neither {split}/ nor {split}.zip or {split}.7z; "
                            "put the competition's files there as Kaggle ships them")
        self.split = split
        self.archive = None if self.folder else Archive(self.archive_path)
        names = (sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file())
                 if self.folder else self.archive.files())
        self.files = names = [name for name in names if not Path(name).name.startswith(".")]
        self.by_id, self.repeated = {}, {}
        for name in names:  # an id is a file's name without its extension (or with it)
            stem = Path(name).stem
            if stem in self.by_id:
                self.repeated.setdefault(stem, [self.by_id[stem]]).append(name)
            self.by_id[stem] = name
        self.by_id.update({Path(name).name: name for name in names if Path(name).name not in self.by_id})

    @property
    def where(self):
        return self.folder or self.archive_path

    def fingerprint(self):
        """Changes whenever a source file is added, removed, resized or touched."""
        if self.archive_path and not self.folder:
            stat = self.archive_path.stat()
            return {"archive": self.archive_path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        digest = hashlib.sha256()
        for name in sorted(self.files):
            stat = (self.folder / name).stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return {"folder": self.folder.name, "files": digest.hexdigest()}

    def require(self, ids, listed_in):
        repeated = [i for i in ids if str(i) in self.repeated]
        if repeated:
            files = self.repeated[str(repeated[0])]
            raise UserError(f"{self.where} has {len(files)} files for id {repeated[0]} ({', '.join(files[:3])}); "
                            "keep one image per id")
        missing = [i for i in ids if str(i) not in self.by_id]
        if missing:
            raise UserError(f"{listed_in} lists id {missing[0]} but {self.where} has no image for it "
                            f"({len(missing)} missing); use the complete files from Kaggle")

    def unlisted(self, ids):
        """How many files no id of `ids` names."""
        ids = set(map(str, ids))
        return sum(Path(name).stem not in ids and Path(name).name not in ids for name in self.files)

    def read(self, ids):
        """{id: encoded bytes} for the given ids."""
        names = {str(i): self.by_id[str(i)] for i in ids}
        if self.folder:
            return {i: (self.folder / name).read_bytes() for i, name in names.items()}
        data = self.archive.read_all(names.values())
        return {i: data[name] for i, name in names.items()}


def rgb(image):
    """Any PIL mode as RGB: palette and transparency through RGBA, 16-bit grayscale scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = Image.fromarray((np.asarray(image, dtype=np.float64) / 257).clip(0, 255).astype(np.uint8))
    if image.mode in ("P", "PA", "LA") or "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def fitted(image, size, resize):
    if resize == "crop":
        return ImageOps.fit(image, (size, size), Image.BILINEAR)
    if resize == "pad":
        return ImageOps.pad(image, (size, size), Image.BILINEAR, color=(0, 0, 0))
    return image.resize((size, size), Image.BILINEAR)


def decode(data, where, size=None, resize="stretch"):
    """RGB uint8 array of an encoded image, fitted to size x size when a size is given; corrupt
    files and decompression bombs raise a UserError naming them."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = rgb(image)
            if size and image.size != (size, size):
                image = fitted(image, size, resize)
            return np.asarray(image)
    except Image.DecompressionBombError as error:
        raise UserError(f"{where}: {error}; replace the file, or raise PIL.Image.MAX_IMAGE_PIXELS in your "
                        "competition file if you trust it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UserError(f"{where}: cannot decode this image ({error}); replace the file with Kaggle's") from None


def require_space(folder, size):
    """Room for a cache of `size` bytes in `folder`: it is written through a memory map, and a disk
    that fills up under one kills the process (SIGBUS) instead of raising an error."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < size * 1.02 + 2**20:
        raise UserError(f"not enough free space in {folder} for the image cache ({size / 2**30:.2f} GiB needed, "
                        f"{free / 2**30:.2f} GiB free): free some space, or set PIPELINES_CACHE_DIR to a folder on a "
                        "larger disk")


def cached_images(source, ids, name, size=None, cache_dir=None, log=print, resize="stretch"):
    """uint8 array (len(ids), H, W, 3) of the images for `ids`, decoded once and memory-mapped, with
    their pixel keys (KeyedImages)."""
    if resize not in RESIZE:
        raise UserError(f"resize={resize!r}: choose one of {', '.join(RESIZE)}")
    ids = [str(i) for i in ids]
    key_data = {"version": CACHE_VERSION, "source": source.fingerprint(), "size": size,
                "ids": hashlib.sha256("\n".join(ids).encode()).hexdigest()}
    if resize != "stretch":  # the older caches were all stretched: their keys stay valid
        key_data["resize"] = resize
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(cache_dir or current().cache_dir) / name
    array_path, manifest_path = folder / f"{source.split}-{key}.npy", folder / f"{source.split}-{key}.json"
    if manifest_path.is_file() and array_path.is_file():
        return keyed(array_path)
    source.require(ids, f"the {source.split} id list")
    start = time.perf_counter()
    encoded = source.read(ids)
    first = decode(encoded[ids[0]], f"{source.where}/{source.by_id[ids[0]]}", size, resize)
    require_space(folder, len(ids) * first.nbytes)
    progress = Pass(f"decoding {source.split} images", len(ids))
    with atomic_path(array_path) as temporary:
        array = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=(len(ids), *first.shape))
        for row, image_id in enumerate(ids):
            progress.update(1)
            where = f"{source.where}/{source.by_id[image_id]}"
            image = decode(encoded.pop(image_id), where, size, resize)
            if image.shape != first.shape:
                raise UserError(f"{where}: image is {image.shape[1]}x{image.shape[0]}, the others "
                                f"{first.shape[1]}x{first.shape[0]}; pass a decode size for this competition")
            array[row] = image
        array.flush()
        del array
    progress.close()
    seconds = time.perf_counter() - start
    write_text(manifest_path, json.dumps({**key_data, "shape": [len(ids), *first.shape],
                                          "decode_seconds": round(seconds, 2)}, indent=2))
    log(f"decoded {len(ids)} {source.split} images from {source.where} in {seconds:.1f}s -> {array_path}")
    return keyed(array_path)
