"""Fitted objects on disk, in formats that load without running arbitrary code.

scikit-learn objects (fold-fitted features, scikit-learn and GBDT models) are skops.io files.
skops refuses to build any type it was not told to trust; we trust the types of this
project's own packages and of the libraries its models come from, and name anything else.
The types a file holds are listed beside it when it is written (`NAME.types.json`, read
from the file's own schema, not by parsing the file again), so a load parses the file once:
the list is checked against that policy, and skops still refuses any type the file holds that
the list lacks. GBDT models are saved in their libraries' own formats (pipelines/gbdt.py).
Lightning modules are Lightning checkpoints of weights and hyperparameters, read with
torch's weights_only loader (tensors and plain containers only).
"""
import io
import json
import zipfile
from pathlib import Path

from .errors import UserError
from .files import atomic_path, write_json

TRUSTED_PACKAGES = ("features", "pipelines", "competitions", "sklearn", "numpy", "scipy", "lightgbm", "xgboost",
                    "catboost")
TRUSTED_TYPES = ("collections.OrderedDict", "collections.defaultdict")  # plain containers models hold


def types_path(path):
    path = Path(path)
    return path.with_name(path.name + ".types.json")


def schema_types(data):
    """Every type a skops file's schema names, builtins aside (skops trusts the plain ones; any other
    builtin stays untrusted and is refused at load)."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        walk(json.loads(archive.read("schema.json")))
    return sorted(name for name in found if not name.startswith("builtins."))


def save_object(obj, path):
    import skops.io

    data = skops.io.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    write_json(types_path(path), schema_types(data))
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def load_object(path):
    import skops.io

    try:
        untrusted = json.loads(types_path(path).read_text())
    except (OSError, ValueError):
        untrusted = None
    try:
        if not isinstance(untrusted, list) or not all(isinstance(name, str) for name in untrusted):
            untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # noqa: BLE001 - not a zip, no schema, bad JSON
        raise UserError(f"cannot read {path} as a saved model ({type(error).__name__}: {error})") from None
    refused = [name for name in untrusted if name.split(".")[0] not in TRUSTED_PACKAGES and name not in TRUSTED_TYPES]
    if refused:
        raise UserError(f"{path} would load {refused[0]}, which is not a type of this project or its model "
                        f"libraries ({', '.join(TRUSTED_PACKAGES)}); it was not written by this project's run")
    try:
        return skops.io.load(path, trusted=untrusted)
    except Exception as error:  # noqa: BLE001
        raise UserError(f"cannot load {path} ({type(error).__name__}: {error})") from None


def save_checkpoint(trainer, path):
    """The trained module's weights and hyperparameters (no optimizer state) as a Lightning checkpoint."""
    with atomic_path(path) as temporary:
        trainer.save_checkpoint(temporary, weights_only=True)


def load_checkpoint(module_class, path):
    """A module_class restored from its checkpoint; its `restore_kwargs` (if any) are passed to its
    constructor, e.g. to skip loading pretrained weights that the checkpoint replaces anyway."""
    try:
        return module_class.load_from_checkpoint(path, map_location="cpu", weights_only=True,
                                                 **getattr(module_class, "restore_kwargs", {}))
    except Exception as error:  # noqa: BLE001 - unpickling refusals, missing keys, wrong shapes
        first = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot load {path} as a {module_class.__name__} checkpoint ({first})") from None
