"""One module per competition; each defines COMPETITION.

Competition files may also live in folders of your own, named by PIPELINES_COMPETITIONS (paths
separated by os.pathsep): their modules join this package, so every command and every worker
process finds them by name.

May import: pipelines.core (this registry; the competition files themselves import anything public).
"""
import importlib
import os
import pkgutil

from pipelines.core.errors import UserError

__path__ += [folder for folder in os.environ.get("PIPELINES_COMPETITIONS", "").split(os.pathsep) if folder]


def names():
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name):
    known = names()
    if name not in known:
        raise UserError(f"unknown competition {name!r}; choose one of: {', '.join(known)}")
    module = importlib.import_module(f"{__name__}.{name}")
    if not hasattr(module, "COMPETITION"):
        raise UserError(f"{module.__file__} defines no COMPETITION: assign the competition to it "
                        "(COMPETITION = tabular_competition(...))")
    return module.COMPETITION
