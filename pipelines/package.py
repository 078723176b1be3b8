"""python -m pipelines.package RUN_DIR: a finished run as a Kaggle dataset and an offline notebook.

Code competitions run a notebook on the hidden test set with the internet off. The dataset holds
what `pipelines.predict` reads of the run (fold or refit models, fitted features, configuration
and records; no out-of-fold predictions, logs or plots), this project as a wheel, and wheels of
the packages its installation needs that Kaggle's image lacks (or holds in a version the project
does not accept). What the image provides is declared in pipelines/kaggle/kaggle_image.json (or --image
FILE, e.g. `pip list --format=json` from a Kaggle notebook): nothing is guessed. The notebook
installs the bundled wheels with `pip install --no-index` and runs `pipelines.predict` on
/kaggle/input/<competition> into /kaggle/working/submission.csv. Both folders are built in a
temporary folder renamed into place when complete. `--rehearse` runs the notebook here first,
offline (pipelines/kaggle/rehearsal.py), and compares its submission with the run's.
"""
import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from pipelines.core.errors import UserError, cli_main
from pipelines.engine.options import add_debug_argument
from pipelines.kaggle.environment import IMAGE, canonical, read_image
from pipelines.record.runfolder import REPO, RunFolder, needed_to_predict

PROJECT = "kaggle-pipelines"
SOURCES = ("pyproject.toml", "README.md", "pipelines", "competitions", "features", "submissions")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")


def run_files(folder):
    """The run's files that predicting reads, relative to the run folder (every one verified first)."""
    config = folder.config
    if config.get("kind") == "blend":
        raise UserError(f"{folder.path} is a blend of runs; package one run (python -m pipelines.package RUN_DIR)")
    folder.require_config("competition", "refit", "folds", "members", "params", "train_schema")
    folder.require_complete("package")
    keys = ["full"] if config["refit"] else list(range(config["folds"]))
    names = {"config.json", "status.json", "metrics.json"}
    names.update(name for name in folder.status.get("files", {}) if needed_to_predict(name))
    names.update(path.name for path in folder.path.glob("stacker.skops*"))
    for member in config["members"]:
        for key in keys:
            record = folder.finished_fold(member, key)
            if record is None:
                raise UserError(f"{folder.fold_path(member, key)} has no finished model; the run is incomplete")
            base = folder.fold_path(member, key).relative_to(folder.path)
            names.update(str(base / name) for name in record["files"] if needed_to_predict(name))
            names.update({str(base / "record.json"), record["features"]["path"]})
    return sorted(names)


def predict_imports(run_dir, data_dir=None):
    """The distributions pipelines.predict needs to predict from `run_dir`, found by doing what it does
    in this (fresh) process: the command imported, every fold's fitted features and model loaded, the
    test files of `data_dir` read when that folder is here (archives need their readers), and what
    fitted steps say they read only when transforming (a backbone's weights package)."""
    import competitions
    from pipelines.engine import prediction

    folder = RunFolder(run_dir)
    config = folder.config
    competition = competitions.get(config["competition"])
    declared = set()
    for member in config["members"]:
        for key in prediction.fold_keys(config):
            record = folder.finished_fold(member, key, to_predict=True)
            features = folder.load_features(record)
            prediction.saved_model(folder, competition, member, key)
            steps = [step for _, step in getattr(features, "steps", [])] or [features]
            declared.update(name for step in steps for name in getattr(step, "requirements", list)())
    if data_dir and Path(data_dir).is_dir():
        competition.load(Path(data_dir), competition.recorded_params(config["params"]), train=False)
    else:  # without the test files: whatever reads archives, to be safe
        import py7zr  # noqa: F401
    owners = metadata.packages_distributions()
    found = {canonical(owner) for module in list(sys.modules) for owner in owners.get(module.split(".")[0], ())}
    return sorted((found | {canonical(name) for name in declared}) - {PROJECT})


PROBE = "import json, sys; from pipelines.package import predict_imports; print(json.dumps(predict_imports(*sys.argv[1:])))"


def predict_requirements(folder):
    """What predicting from the run imports (predict_imports), asked of a fresh Python process."""
    data_dir = folder.config.get("data_dir") or ""
    from pipelines.core.context import current

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PIPELINES_CACHE_DIR": str(current().cache_dir)}  # the images this command's runs decoded
    done = subprocess.run([sys.executable, "-c", PROBE, str(folder.path.resolve()), data_dir], capture_output=True,
                          text=True, check=False, env=env)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise UserError(f"cannot load the run's models to see what predicting needs ({lines[-1]}); check that the "
                        "project's dependencies are installed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_series(declared, installed):
    """Whether the image's version is of the run's series (same major version; same minor for 0.x):
    fitted objects, checkpoints and arrays saved by one series may not load in another."""
    from packaging.version import Version

    a, b = Version(declared).release + (0, 0), Version(installed).release + (0, 0)
    return a[:2] == b[:2] if a[0] == 0 or b[0] == 0 else a[0] == b[0]


def requirement_closure(python, provided, requirements=None):
    """{name: installed version} of the distributions installing this project (whose `requirements`
    are by default the installed project's) needs beyond `provided`: what the image lacks, holds in
    a version a requirement refuses, or holds in another series than the one the run used
    (same_series), for Linux and `python`."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    if requirements is None:
        try:
            requirements = metadata.requires(PROJECT) or []
        except metadata.PackageNotFoundError:
            raise UserError(f"{PROJECT} is not installed: pip install -e . in the project, then package") from None

    environment = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
                   "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                   "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    needed, seen = {}, set()
    pending = [(text, "") for text in requirements]  # (requirement, the extra it is under)
    while pending:
        text, extra = pending.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({**environment, "extra": extra}):
            continue
        name = canonical(requirement.name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise UserError(f"{requirement.name}, which this project needs, is not installed here: install the "
                            "project's dependencies (pip install -e .) before packaging") from None
        if name in provided and requirement.specifier.contains(Version(provided[name]), prereleases=True) \
                and same_series(provided[name], distribution.version):
            continue
        needed[name] = distribution.version
        for wanted in ("", *sorted(requirement.extras)):  # psycopg[binary] needs psycopg-binary too
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                pending += [(child, wanted) for child in distribution.requires or ()]
    return needed


def pip(*args):
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or [""])[-1]
    return done.returncode, last


def project_wheel(folder, competition):
    """This project's wheel, built from a copy of its sources (the working tree stays clean) with, of
    competitions/, only the run's module."""
    if not (REPO / "pyproject.toml").is_file():
        raise UserError(f"{REPO} holds no pyproject.toml: package from the project's folder installed with "
                        "pip install -e .")
    with tempfile.TemporaryDirectory() as source:
        for name in SOURCES:
            path = REPO / name
            if name == "competitions":
                (Path(source) / name).mkdir()
                for kept in ("__init__.py", f"{competition}.py"):
                    shutil.copy2(path / kept, Path(source) / name / kept)
            elif path.is_dir():
                shutil.copytree(path, Path(source) / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, Path(source) / name)
        code, last = pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
                         "--wheel-dir", str(folder), source)
    if code:
        raise UserError(f"building this project's wheel failed ({last}); pip install setuptools, then retry")


def download_wheels(needed, folder, python, wheelhouse=None):
    """A wheel of each needed distribution for Kaggle's Python on Linux x86_64, from the package
    index or, with `wheelhouse`, from that folder only."""
    source = ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse else []
    platforms = [option for platform in PLATFORMS for option in ("--platform", platform)]
    for name, version in sorted(needed.items()):
        code, last = pip("download", "--no-deps", "--only-binary=:all:", "--quiet", "--python-version", python,
                         "--implementation", "cp", *platforms, *source, "--dest", str(folder), f"{name}=={version}")
        if code:
            where = f"in {wheelhouse}" if wheelhouse else "on the package index"
            raise UserError(f"no wheel of {name}=={version} for Kaggle's Python {python} on Linux x86_64 {where} "
                            f"({last}); build one (pip wheel {name}=={version}) into a folder and pass --wheelhouse")


def notebook(dataset, competition, slug):
    """A readable notebook: install the bundled wheels without a network, then predict."""
    def cell(kind, name, text):
        lines = text.strip("\n").splitlines(keepends=True)
        base = {"cell_type": kind, "id": name, "metadata": {}, "source": lines}
        return base if kind == "markdown" else {**base, "execution_count": None, "outputs": []}

    install = f'''import glob
import os
import subprocess
import sys

DATASET = "/kaggle/input/{dataset}"  # the run, this project and the wheels of what predicting needs beyond the image
subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                *sorted(glob.glob(f"{{DATASET}}/wheels/*.whl"))], check=True)
'''
    predict = f'''# the competition's test files, as Kaggle mounts them; images decode into a cache outside the outputs
subprocess.run([sys.executable, "-m", "pipelines.predict", f"{{DATASET}}/run",
                "--data-dir", "/kaggle/input/{slug}", "--submission", "/kaggle/working/submission.csv"],
               check=True, env={{**os.environ, "PIPELINES_CACHE_DIR": "/tmp/pipelines-cache"}})
'''
    return {"cells": [cell("markdown", "about", f"# {competition}: predict offline\n\nThe models, this project and the "
                                      f"packages Kaggle's image lacks come from the dataset `{dataset}`; the "
                                      "internet stays off."),
                      cell("code", "install", install), cell("code", "predict", predict)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def kaggle_user(user):
    """--user, else the user name of the Kaggle credentials (never their key), else a placeholder."""
    from pipelines.kaggle.client import credential_files

    if user or os.environ.get("KAGGLE_USERNAME"):
        return user or os.environ["KAGGLE_USERNAME"]
    for path in credential_files():
        try:
            return json.loads(path.read_text())["username"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return "YOUR-KAGGLE-NAME"


def anonymous(run, files):
    """The packaged run's config and status without what names this machine (the data folder's path,
    the submission's, the host, process and any stale traceback of a resumed run), its records kept
    true: status.json lists the packaged files, config.json with its new sha256."""
    from pipelines.core.files import file_record

    config = json.loads((run / "config.json").read_text())
    config.update(data_dir=None, submission=None)
    config["code"] = {**config.get("code", {}), "files": {name: digest for name, digest in
                                                          config.get("code", {}).get("files", {}).items()
                                                          if not Path(name).is_absolute()}}
    (run / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    status = json.loads((run / "status.json").read_text())
    shipped = {name: record for name, record in status.get("files", {}).items() if name in files}
    shipped["config.json"] = file_record(run / "config.json")
    (run / "status.json").write_text(json.dumps({"status": "complete", "files": shipped,
                                                 "submission_sha256": status.get("submission_sha256")}, indent=2))


def build(folder, out, image=IMAGE, wheelhouse=None, gpu=False, user=None, log=print):
    """Write the dataset and notebook folders of the finished run `folder` into `out`; returns it."""
    import competitions
    from pipelines.record.runfolder import code_changes, code_version

    files = run_files(folder)
    config = folder.config
    competition = competitions.get(config["competition"])
    module = Path(sys.modules[competitions.__name__ + "." + config["competition"]].__file__).resolve()
    if not module.is_relative_to(REPO / "competitions"):
        raise UserError(f"{module} is outside this project's competitions/ folder, so its wheel would not hold it; "
                        "copy the file into competitions/ and package again")
    changed = code_changes(config.get("code", {}), code_version(competition.name))
    if changed:
        log(f"warning: the code differs from the run's ({', '.join(changed[:4])}); the package holds today's")
    python, provided = read_image(image)
    user = kaggle_user(user)
    stamp = re.sub(r"[^a-z0-9]+", "-", folder.path.resolve().name.lower())[:15].strip("-")
    dataset_slug = f"{competition.name.replace('_', '-')}-run-{stamp}"[:41].strip("-")  # + "-predict" <= 50
    gpu = gpu or config.get("preset") == "gpu"
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        dataset = temporary / "dataset"
        for name in files:
            (dataset / "run" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder.path / name, dataset / "run" / name)
        anonymous(dataset / "run", files)
        project_wheel(dataset / "wheels", competition.name)
        imports = predict_requirements(folder)
        (dataset / "predict-imports.json").write_text(json.dumps(
            {name: metadata.version(name) for name in imports}, indent=2))  # what the rehearsal installs as the image's
        needed = requirement_closure(python, provided, imports)
        download_wheels(needed, dataset / "wheels", python, wheelhouse)
        (dataset / "dataset-metadata.json").write_text(json.dumps(
            {"title": f"{competition.name} run {folder.path.name}"[:50], "id": f"{user}/{dataset_slug}",
             "licenses": [{"name": "CC0-1.0"}]}, indent=2))
        kernel = temporary / "notebook"
        kernel.mkdir()
        (kernel / "predict.ipynb").write_text(json.dumps(notebook(dataset_slug, competition.name, competition.slug),
                                                         indent=1))
        (kernel / "kernel-metadata.json").write_text(json.dumps(
            {"id": f"{user}/{dataset_slug}-predict", "title": f"{dataset_slug} predict", "code_file": "predict.ipynb",
             "language": "python", "kernel_type": "notebook", "is_private": True, "enable_gpu": gpu,
             "enable_tpu": False, "enable_internet": False, "dataset_sources": [f"{user}/{dataset_slug}"],
             "competition_sources": [competition.slug], "kernel_sources": [], "model_sources": []}, indent=2))
        if out.exists():
            out.rmdir()  # checked empty by the caller
        temporary.rename(out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    size = sum(path.stat().st_size for path in (out / "dataset").rglob("*") if path.is_file())
    wheels = sorted(path.name for path in (out / "dataset" / "wheels").glob("*.whl"))
    log(f"dataset {user}/{dataset_slug} for Kaggle's Python {python}: {len(files)} run files, {len(wheels)} wheels "
        f"({', '.join(wheels[:6])}{', ...' if len(wheels) > 6 else ''}), {size / 2**20:.1f} MiB")
    log(f"notebook: {out / 'notebook' / 'predict.ipynb'} (internet off, {'GPU' if gpu else 'CPU'})")
    recorded = config.get("versions") or {}
    other = [f"{name} {provided[canonical(name)]} (the run: {version})" for name, version in recorded.items()
             if canonical(name) in provided and canonical(name) not in needed and version
             and provided[canonical(name)].split("+")[0] != version.split("+")[0]]
    if other:
        log(f"warning: Kaggle's image holds {', '.join(other)}; its predictions may differ from the run's "
            "in the last digits")
    return out


def push(out, api, log=print):
    """Create the dataset (or add a version to it), then push the notebook, through the kaggle
    package's public API; returns the notebook's address."""
    from pipelines.kaggle.client import kaggle_errors, quiet_output

    dataset = out / "dataset"
    ref = json.loads((dataset / "dataset-metadata.json").read_text())["id"]
    with kaggle_errors(f"uploading the dataset {ref}", competition=False), quiet_output(), kaggle_refusal(ref):
        result = api.dataset_create_new(str(dataset), public=False, quiet=True, dir_mode="zip")
        if result.error and "already in use" in result.error:  # ours from an earlier push: a new version
            result = api.dataset_create_version(str(dataset), f"run {out.name}", quiet=True, dir_mode="zip")
    if result.error:
        raise UserError(f"Kaggle refused the dataset {ref}: {result.error}")
    log(f"dataset: {result.url or ref}")
    wait_until_ready(api, ref)  # Kaggle processes a new version before a notebook can mount it
    with kaggle_errors("pushing the notebook", competition=False), quiet_output(), kaggle_refusal(ref):
        kernel = api.kernels_push(str(out / "notebook"))
    if kernel.error:
        raise UserError(f"Kaggle refused the notebook: {kernel.error}")
    return kernel.url


@contextlib.contextmanager
def kaggle_refusal(ref):
    """The kaggle package's own checks of the metadata (ValueError) as one UserError."""
    try:
        yield
    except ValueError as error:
        raise UserError(f"the kaggle package refused {ref}: {error}") from None


def wait_until_ready(api, ref, timeout=900, every=10):
    from pipelines.kaggle.client import kaggle_errors, quiet_output

    start = time.monotonic()
    while True:
        with kaggle_errors(f"asking for the status of {ref}", competition=False), quiet_output():
            status = str(api.dataset_status(ref)).lower()
        if status == "ready":
            return
        if status == "error" or time.monotonic() - start > timeout:
            raise UserError(f"the dataset {ref} is {status} on Kaggle after {time.monotonic() - start:.0f}s; "
                            "look at it on kaggle.com, then push the notebook with: kaggle kernels push -p "
                            "NOTEBOOK_FOLDER")
        time.sleep(every)


def check_out(out):
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not empty; choose a new folder (or remove that one)")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m pipelines.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a finished run's folder, e.g. runs/house_prices/20261123T101500123456Z")
    parser.add_argument("--out", help="the folder to write (default packages/<competition>-<run>)")
    parser.add_argument("--gpu", action="store_true", help="the notebook runs on a GPU (default: when the run's "
                        "preset is gpu)")
    parser.add_argument("--image", default=str(IMAGE), help="what Kaggle's image provides: pip list --format=json "
                        "output or a file like pipelines/kaggle/kaggle_image.json (the default)")
    parser.add_argument("--wheelhouse", help="take the wheels from this folder only (no package index)")
    parser.add_argument("--user", help="your Kaggle user name in the metadata (default: from your credentials)")
    parser.add_argument("--push", action="store_true", help="upload the dataset (or a new version of it) and "
                        "push the notebook to Kaggle (needs credentials)")
    parser.add_argument("--rehearse", nargs="?", const="", metavar="DATA_DIR",
                        help="first run the notebook here, offline, in a fresh environment with only the image's "
                             "packages, on DATA_DIR (default: the run's data folder), and compare its submission "
                             "with the run's")
    add_debug_argument(parser)
    return parser


@cli_main
def main(argv=None):
    args = build_parser().parse_args(argv)
    folder = RunFolder.open(args.run_dir)
    name = folder.path.resolve().name
    out = Path(args.out) if args.out else Path("packages") / f"{folder.config.get('competition')}-{name}"
    check_out(out)
    if args.wheelhouse and not Path(args.wheelhouse).is_dir():
        raise UserError(f"--wheelhouse {args.wheelhouse}: no such folder")
    read_image(args.image)  # a bad list fails before anything is built
    if args.rehearse is not None:
        data_dir = Path(args.rehearse or folder.config.get("data_dir") or "")
        if not data_dir.is_dir() or str(data_dir) in ("", "."):
            raise UserError(f"--rehearse {args.rehearse or ''}: no data folder {data_dir}; give the folder of the "
                            "competition's test files")
    api, user = None, args.user
    if args.push:  # credentials first: nothing is built without them
        from pipelines.kaggle.client import connect

        api = connect()
        user = user or api.config_values.get(api.CONFIG_NAME_USER)
        if not user:
            raise UserError("--push: your credentials name no Kaggle user; pass --user NAME")
    build(folder, out, args.image, args.wheelhouse, args.gpu, user)
    if args.rehearse is not None:
        from pipelines.kaggle.rehearsal import difference, rehearse

        submission, seconds = rehearse(out, args.image, data_dir, args.wheelhouse)
        recorded = folder.status.get("submission_sha256")
        same = ("the run's, byte for byte" if hashlib.sha256(submission).hexdigest() == recorded
                else f"not the run's ({difference(submission, folder.status.get('submission'))})")
        print(f"rehearsal: the notebook ran offline in {seconds:.1f}s; its submission is {same}")
    if api is not None:
        print(f"notebook: {push(out, api)}")
    print(out)


if __name__ == "__main__":
    main()
