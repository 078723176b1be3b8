"""Rehearsing a code-competition package here: the notebook run in a fresh virtual environment
whose Python sees only the declared Kaggle image's packages, after `pip install --no-index` of the
package's wheels, with /kaggle under a temporary folder. Of what predicting imports, the image's
own versions are installed from the package index (or --wheelhouse) where they differ from this
environment's, so the rehearsal meets the skew Kaggle will (pytorch-lightning 2.5 beside a run
made with 2.6, say); a version with no build for this machine (torch's CPU builds live on their own
index) is stood in for by this environment's, and the rehearsal says which. The rest of the image
is linked from this environment, with what it requires."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from pipelines.core.errors import UserError
from pipelines.kaggle.environment import canonical, installed_distributions, read_image


def installed_closure(names, leave_out=()):
    """The canonical names of the installed distributions `names` and, recursively, what they
    require (with the extras asked for), as an image holds them; `leave_out` and what only they
    require are not followed."""
    from packaging.requirements import Requirement

    found, seen, pending = set(), set(), [(canonical(name), "") for name in names]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in seen or name in leave_out:
            continue
        seen.add((name, extra))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found.add(name)
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                pending += [(canonical(requirement.name), wanted) for wanted in ("", *requirement.extras)]
    return found


def image_environment(root, packages, first=None):
    """A fresh virtual environment in `root` whose Python sees, of this environment's packages, only
    those named in `packages` (linked, not copied), after the folder `first` (packages installed in
    the image's versions); returns its python."""
    site = root / "image-site"
    site.mkdir(parents=True)
    for name, distribution in installed_distributions().items():
        if name not in packages or not distribution.files:
            continue
        for top in {file.parts[0] for file in distribution.files} - {"..", "__pycache__"}:
            source, target = Path(distribution.locate_file(top)), site / top
            if source.exists() and not target.exists():
                target.symlink_to(source)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "kaggle-image.pth").write_text("".join(f"{folder}\n" for folder in (first, site) if folder))
    return python


def notebook_script(out, root):
    """The notebook's code cells as one script, with /kaggle (and /tmp) under `root`."""
    cells = json.loads((out / "notebook" / "predict.ipynb").read_text())["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return re.sub(r"/kaggle|/tmp", lambda match: str(root) if match.group() == "/kaggle" else f"{root}/temp", code)


CPU_INDEX = {"torch": "https://download.pytorch.org/whl/cpu"}  # the package index's torch is a CUDA build


def image_versions(imports, provided, bundled, folder, wheelhouse=None, log=print):
    """Install into `folder` the image's versions of the packages predicting imports that the image
    provides in another version than this environment's (their own files only: --no-deps); returns
    the names installed (the others are stood in for by this environment's version, and said)."""
    installed = []
    for name, here in sorted(imports.items()):
        name = canonical(name)
        theirs = provided.get(name)
        if theirs is None or name in bundled or theirs.split("+")[0] == here.split("+")[0]:
            continue
        source = (["--no-index", "--find-links", str(wheelhouse)] if wheelhouse
                  else ["--index-url", CPU_INDEX[name]] if name in CPU_INDEX else [])
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
                               "--target", str(folder), *source, f"{name}=={theirs}"], capture_output=True, text=True,
                              check=False)
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["no build"])[-1]
            log(f"rehearsal: no {name} {theirs} for this machine ({reason[:120]}); this environment's {here} stands in")
        else:
            installed.append(name)
    if installed:
        log(f"rehearsal: with the image's {', '.join(f'{name} {provided[name]}' for name in installed)} "
            f"(installed from {wheelhouse or 'the package index'})")
    return installed


def rehearse(out, image, data_dir, wheelhouse=None, log=print):
    """Run the notebook of the package `out` in a fresh environment that sees only the image's
    packages (in the image's versions where predicting imports them and a build exists), on the
    competition files of `data_dir`; returns (submission bytes, seconds)."""
    kernel = json.loads((out / "notebook" / "kernel-metadata.json").read_text())
    provided = read_image(image)[1]
    bundled = {canonical(wheel.name.split("-")[0]) for wheel in (out / "dataset" / "wheels").glob("*.whl")}
    imports_file = out / "dataset" / "predict-imports.json"
    imports = json.loads(imports_file.read_text()) if imports_file.is_file() else {}
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        versions = root / "image-versions"
        installed = image_versions(imports, provided, bundled, versions, wheelhouse, log)
        # the image's other packages as found here, with what they require (an image holds complete trees)
        python = image_environment(root / "image", installed_closure(provided, leave_out={*bundled, *installed}),
                                   first=versions if installed else None)
        kaggle = root / "kaggle"
        (kaggle / "input").mkdir(parents=True)
        (kaggle / "working").mkdir()
        (kaggle / "input" / kernel["dataset_sources"][0].split("/")[1]).symlink_to((out / "dataset").resolve())
        (kaggle / "input" / kernel["competition_sources"][0]).symlink_to(Path(data_dir).resolve())
        start = time.perf_counter()
        clean = {key: value for key, value in os.environ.items()  # nothing of this checkout leaks in
                 if key != "PYTHONPATH" and not key.startswith(("PIPELINES_", "VIRTUAL_ENV"))}
        done = subprocess.run([str(python), "-c", notebook_script(out, kaggle)], cwd=kaggle / "working",
                              env=clean, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        if done.returncode:
            lines = done.stderr.strip().splitlines() or ["no output"]
            last = next((line for line in reversed(lines) if line.startswith("ERROR")), lines[-1])
            raise UserError(f"the notebook failed offline in a fresh environment with the image's packages ({last}); "
                            f"the package is kept in {out} for a look")
        return (kaggle / "working" / "submission.csv").read_bytes(), seconds


def difference(submission, run_submission):
    """How a rehearsal's submission differs from the run's file (when that file is still there)."""
    import io

    import numpy as np
    import pandas as pd

    if not run_submission or not Path(run_submission).is_file():
        return "the run's submission file is gone; other test files or library versions also differ"
    ours, theirs = pd.read_csv(io.BytesIO(submission)), pd.read_csv(run_submission)
    if list(ours.columns) != list(theirs.columns) or len(ours) != len(theirs):
        return "other test files"
    numbers = ours.columns[1:][[pd.api.types.is_numeric_dtype(ours[c]) for c in ours.columns[1:]]]
    if len(numbers) == len(ours.columns) - 1:
        gap = float(np.abs(ours[numbers].to_numpy(float) - theirs[numbers].to_numpy(float)).max())
        return f"largest difference {gap:.2g}"
    return f"{int((ours != theirs).any(axis=1).sum())} rows differ"
