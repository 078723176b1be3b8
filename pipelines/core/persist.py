"""Fitted objects on disk, in formats that load without running arbitrary code.

scikit-learn objects (fold-fitted features, scikit-learn and GBDT models) are skops.io files.
skops refuses to build any type it was not told to trust. The types a file holds beyond skops's
own trusted ones are listed beside it when it is written (`NAME.types.json`); a load trusts only
those, and only when each is a class of this project's packages or of the libraries its models
come from: a function or method is never trusted (a FunctionTransformer whose `func` names one of
ours could run anything), nor a type the record does not list. GBDT models are saved in their
libraries' own formats (pipelines/training/gbdt.py).
Lightning modules are Lightning checkpoints of weights and hyperparameters, read with
torch's weights_only loader (tensors and plain containers only).
"""
import io
import json
import zipfile
from pathlib import Path

from pipelines.core.errors import UserError
from pipelines.core.files import atomic_path, write_json

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


def resolved(name):
    """The object a dotted type name refers to (module, then attributes), or None."""
    import importlib

    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute, None)
        return found
    return None


def refusal(name):
    """Why the type `name` may not be built from a file (None when it may): only classes of this
    project's packages and its model libraries, and plain containers, are trusted."""
    if name in TRUSTED_TYPES:
        return None
    if name.split(".")[0] not in TRUSTED_PACKAGES:
        return f"not a type of this project or its model libraries ({', '.join(TRUSTED_PACKAGES)})"
    if not isinstance(resolved(name), type):
        return "not a class (a function or method in a saved model could run any code)"
    return None


def load_object(path):
    import skops.io

    path = Path(path)
    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # noqa: BLE001 - not a zip, no schema, bad JSON
        raise UserError(f"cannot read {path} as a saved model ({type(error).__name__}: {error})") from None
    try:
        recorded = json.loads(types_path(path).read_text())
    except (OSError, ValueError):
        recorded = None  # written before types were recorded: the policy alone decides
    unrecorded = [name for name in untrusted if isinstance(recorded, list) and name not in recorded]
    if unrecorded:
        raise UserError(f"{path} holds {unrecorded[0]}, which the run did not record saving; it was changed after "
                        "the run wrote it: run again")
    for name in untrusted:
        why = refusal(name)
        if why:
            raise UserError(f"{path} would load {name}, {why}; it was not written by this project's run")
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
