"""One module per competition; each defines COMPETITION."""
import importlib
import pkgutil

from pipelines.errors import UserError


def names():
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name):
    known = names()
    if name not in known:
        raise UserError(f"unknown competition {name!r}; choose one of: {', '.join(known)}")
    return importlib.import_module(f"{__name__}.{name}").COMPETITION
