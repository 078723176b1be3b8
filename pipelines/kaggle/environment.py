"""What Kaggle's notebook image has installed, and what this environment has: the two sides a
packaged run's requirements are matched between.
"""
import json
import re
from importlib import metadata
from pathlib import Path

from pipelines.core.errors import UserError

IMAGE = Path(__file__).with_name("kaggle_image.json")  # the image's Python and packages, as this project declares them


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions():
    """{canonical name: distribution} of this environment, the first of a name on sys.path winning as
    imports do (setuptools puts its vendored copies of importlib-metadata and zipp on the path too)."""
    found = {}
    for distribution in metadata.distributions():
        found.setdefault(canonical(distribution.metadata["Name"]), distribution)
    return found


def read_image(path):
    """(python version, {canonical name: version}) of a declared image: this project's file or the
    output of `pip list --format=json`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"--image {path}: cannot read it as JSON ({error}); give pip list --format=json output "
                        "or a file like pipelines/kaggle/kaggle_image.json") from None
    try:
        if isinstance(data, list):  # pip list --format=json (of Kaggle's Python, 3.11 unless the file says)
            data = {"python": "3.11", "packages": {entry["name"]: entry["version"] for entry in data}}
        return str(data.get("python", "3.11")), {canonical(name): str(version)
                                                 for name, version in data["packages"].items()}
    except (AttributeError, KeyError, TypeError):
        raise UserError(f"--image {path}: no list of packages and versions in it; give pip list --format=json "
                        "output or a file like pipelines/kaggle/kaggle_image.json") from None
