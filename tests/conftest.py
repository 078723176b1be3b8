import os
import sys
from pathlib import Path

import pytest

from tests.synthetic import make_house_prices

REPO = Path(__file__).resolve().parents[1]
# Small generated runs train in the test's own process; the tests of workers ask for them (--workers 2).
os.environ.setdefault("PIPELINES_WORKERS", "1")
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def house_dir(tmp_path):
    return make_house_prices(tmp_path / "house-prices-advanced-regression-techniques")


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run with the temporary folder as working directory (runs/ and submissions/ land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def shared_data(slug):
    path = SHARED_DATA / slug
    if not path.is_dir():
        pytest.skip(f"real competition files not found at {path}")
    return path


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def own_competitions(tmp_path, monkeypatch):
    """A folder of competition files outside the project, as PIPELINES_COMPETITIONS gives."""
    import competitions

    folder = tmp_path / "my_competitions"
    folder.mkdir()
    monkeypatch.setenv("PIPELINES_COMPETITIONS", str(folder))
    monkeypatch.setattr(competitions, "__path__", [*competitions.__path__, str(folder)])
    yield folder
    for name in [f"competitions.{path.stem}" for path in folder.glob("*.py")]:
        sys.modules.pop(name, None)
