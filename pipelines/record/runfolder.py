"""The run folder: the complete, reusable record of one run, written as the run goes.

    runs/NAME/<UTC timestamp>/
      config.json              what was run: competition, preset, members, folds, seed, parameters and
                               the defaults they override, the data folder with a fingerprint (size,
                               sha256) of each input file, the training columns, git commit, versions
      status.json              running / complete / failed (rewritten atomically)
      members/M/fold-K/        fold K of member M: the worker that trained it (worker.json: host, pid),
                               fitted features (features.skops, unless another member's fit of the same
                               recipe is shared), fitted model (model.ckpt, model.skops or the GBDT
                               library's own file), predictions of its validation rows and of the test
                               set (.npy, model space), its logs; record.json, written last, lists each
                               of those files with its size and sha256
      members/M/full/          the refit on all training rows (--refit)
      predictions/             out-of-fold and test predictions of each member and of the blend, with the
                               row ids, targets, folds and excluded rows (.npy)
      metrics.json, oof.csv, learning_curves_M.png, sample_submission.csv

Nothing in a finished fold's folder is written again, and a fold without record.json is
not finished: a killed run never looks complete, and `--resume` retrains only what is missing.
"""
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np

from pipelines.core.errors import UserError, first_line
from pipelines.core.files import atomic_path, file_record, fingerprint, folder_records, sha256, write_json
from pipelines.core.persist import load_object, save_object

RUNS_DIR = Path(os.environ.get("PIPELINES_RUNS_DIR", "runs"))
CONFIG, STATUS, RECORD = "config.json", "status.json", "record.json"
LIBRARIES = ("torch", "pytorch-lightning", "scikit-learn", "optuna", "numpy", "pandas", "skops")
REPO = Path(__file__).resolve().parents[2]  # the project folder


def needed_to_predict(name):
    """Whether predicting from a run reads this file (of the run's or of a fold's folder): the models,
    fitted features, configuration and records, not out-of-fold predictions, logs or plots (a
    packaged run leaves those out)."""
    path = Path(name)
    return not (path.parts[0] in ("logs", "predictions") or path.suffix == ".png"
                or path.name in ("oof.csv", "valid.npy", "valid_rows.npy", "test.npy", "worker.json",
                                 "sample_submission.csv"))  # predict reads the sample of the test files


def now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_dir(name, stamp=None):
    stamp = stamp or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = RUNS_DIR / name / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


ENGINE = ("pipelines", "features", "submissions", "competitions/__init__.py")


def code_files(competition=None):
    """{file: sha256} of the code a run runs: the engine, the shared feature steps, the competition's
    module and any module loaded from the competition's own folder (PIPELINES_COMPETITIONS),
    committed or not. Files of this project are named relative to it."""
    from pipelines.core.errors import user_code_folders

    paths = set()
    for part in ENGINE:
        path = REPO / part
        paths.update(path.rglob("*.py") if path.is_dir() else [path])
    module = sys.modules.get(f"competitions.{competition}") if competition else None
    if module is not None and getattr(module, "__file__", None):
        paths.add(Path(module.__file__))
    outside = [folder for folder in user_code_folders() if not folder.is_relative_to(REPO)]
    for loaded in list(sys.modules.values()):
        file = getattr(loaded, "__file__", None)
        if file and any(Path(file).resolve().is_relative_to(folder) for folder in outside):
            paths.add(Path(file))
    files = {}
    for path in sorted(path.resolve() for path in paths if path.is_file()):
        files[path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)] = sha256(path)
    return files


def files_digest(files):
    return hashlib.sha256("".join(f"{name}\0{digest}\n" for name, digest in files.items()).encode()).hexdigest()


def code_digest(competition=None):
    """One sha256 over the code a run runs (code_files): two processes that agree on it run the same code."""
    return files_digest(code_files(competition))


def require_code(competition, digest):
    """On a Dask worker: refuse a task sent by a command whose code differs from this worker's (a worker
    that joined or restarted after the command checked the cluster runs whatever code it has)."""
    from pipelines.core.progress import dask_worker

    if digest and dask_worker() is not None and code_digest(competition) != digest:
        raise UserError(f"Dask worker {dask_worker().address} runs other code than the command (another version "
                        "of the project, or files changed since the command started): install the same version on "
                        "every worker and restart the workers")


def code_version(competition=None):
    """The git commit, whether the tree had changes (untracked files too), and a sha256 of every file
    of the code (code_files) with one digest over them all (None outside git for the first two)."""
    def git(*args):
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True)
        return done.stdout.strip()

    files = code_files(competition)
    digest = files_digest(files)
    try:
        found = {"commit": git("rev-parse", "HEAD"),
                 "dirty": bool(git("status", "--porcelain", "--", "pipelines", "features", "submissions", "competitions"))}
    except (OSError, subprocess.SubprocessError):
        found = {"commit": None, "dirty": None}
    return {**found, "digest": digest, "files": files}


def code_changes(recorded, current):
    """The files whose code differs between a run's config["code"] and code_version() now."""
    old, new = recorded.get("files"), current.get("files", {})
    if old is None:
        return None  # a run from before code was recorded
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def versions():
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def input_fingerprints(data_dir, paths):
    """{name relative to the data folder: fingerprint} of the files and folders a load read."""
    return {Path(path).relative_to(data_dir).as_posix() if Path(path).is_relative_to(data_dir) else str(path):
            fingerprint(path) for path in paths}


def fold_name(fold):
    return "full" if fold == "full" else f"fold-{fold}"


def pid_alive(pid):
    """Whether a process with this id runs on this machine (a killed child not yet reaped does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def create(cls, name, config):
        folder = cls(new_run_dir(name))
        write_json(folder.path / CONFIG, config)
        folder.set_status("running", attempt=uuid.uuid4().hex)  # a resume starts another attempt
        return folder

    @classmethod
    def open(cls, path):
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"run folder {path} not found; list the runs with: python -m pipelines.runs")
        if not (path / CONFIG).is_file():
            raise UserError(f"{path} is not a run folder (it has no {CONFIG}); give a folder under runs/NAME/")
        folder = cls(path)
        folder.config  # noqa: B018 - read (and check) it now
        return folder

    @cached_property
    def config(self):
        return self._read_json(CONFIG)

    def require_config(self, *keys):
        """The config's values of `keys`; a folder written by an older version may lack some."""
        missing = [key for key in keys if key not in self.config]
        if missing:
            raise UserError(f"{self.path / CONFIG} has no {missing[0]!r}: the run was written by an older version "
                            "of this project; make it again")
        return [self.config[key] for key in keys]

    def _read_json(self, name):
        try:
            return json.loads((self.path / name).read_text())
        except FileNotFoundError:
            raise UserError(f"{self.path} has no {name}: the run folder is incomplete") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{self.path / name} is not valid JSON: the run folder is damaged") from None

    @property
    def metrics(self):
        return self._read_json("metrics.json")

    @property
    def status(self):
        return self._read_json(STATUS) if (self.path / STATUS).is_file() else {"status": "unknown"}

    def set_status(self, state, **extra):
        """Rewrite status.json: `state` and `extra` over what it held (a failed attempt's error and
        traceback go when the run runs or completes again)."""
        previous = self.status if (self.path / STATUS).is_file() else {}
        if state != "failed":
            previous = {key: value for key, value in previous.items() if key not in ("error", "traceback")}
        write_json(self.path / STATUS, {**previous, "status": state, "updated": now(), "host": socket.gethostname(),
                                        "pid": os.getpid(), **extra})

    def fail(self, error, details=None):
        """Record the run as failed with `error` (and its traceback), as far as the disk allows: a
        full disk must not hide the error that stopped the run."""
        try:
            self.set_status("failed", error=first_line(error), **({"traceback": details} if details else {}))
        except OSError:
            pass

    def require_complete(self, action, to_predict=False):
        """A complete run whose recorded files are intact (to_predict: those predicting reads)."""
        status = self.status
        if status["status"] != "complete":
            fix = (f"resume it with: python -m pipelines.run {self.config.get('competition', 'NAME')} --resume {self.path}"
                   if self.config.get("kind", "cv") == "cv" else "make it again")
            raise UserError(f"cannot {action} {self.path}: the run is {status['status']}, not complete; {fix}")
        files = status.get("files", {})
        self.verify({name: files[name] for name in files if not to_predict or needed_to_predict(name)})

    def require_resumable(self):
        status = self.status
        if status["status"] == "complete":
            raise UserError(f"{self.path} is already complete; predict from it with: python -m pipelines.predict {self.path}")
        pid = status.get("pid")
        if (status["status"] == "running" and status.get("host") == socket.gethostname() and pid
                and pid != os.getpid() and pid_alive(pid)):
            raise UserError(f"{self.path} is still being written by process {status['pid']}; wait for it or stop it")

    def verify(self, files, base=None):
        """Each listed file exists with its recorded size and sha256."""
        base = Path(base or self.path)
        for name, recorded in files.items():
            path = base / name
            if not path.is_file():
                raise UserError(f"{path} is missing from the run folder; it cannot be used (restore the whole folder)")
            if file_record(path) != recorded:
                raise UserError(f"{path} changed after the run wrote it (its size or sha256 differs from the "
                                "record); the run folder cannot be trusted: restore it or run again")

    # --- folds -----------------------------------------------------------------------------------

    def fold_path(self, member, fold):
        return self.path / "members" / member / fold_name(fold)

    def finished_fold(self, member, fold, to_predict=False):
        """The fold's verified record (to_predict: the files predicting reads), or None if the fold
        never finished."""
        path = self.fold_path(member, fold)
        if not (path / RECORD).is_file():
            return None
        try:
            record = json.loads((path / RECORD).read_text())
            files, features = record["files"], record["features"]
            features = {"path": features["path"], "size": features["size"], "sha256": features["sha256"]}
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path / RECORD} is damaged: the run folder cannot be trusted; restore it, or delete "
                            "that fold's folder and resume the run to train it again") from None
        self.verify({name: files[name] for name in files if not to_predict or needed_to_predict(name)}, path)
        self.verify({features["path"]: {"size": features["size"], "sha256": features["sha256"]}})
        return record

    def require_attempt(self, attempt):
        """Refuse to write for an attempt that another command has superseded (a resumed run)."""
        if attempt is not None and self.status.get("attempt") not in (None, attempt):
            raise UserError(f"{self.path} was resumed by another command; this task of an earlier attempt stops")

    def start_fold(self, member, fold, worker=None, attempt=None):
        """Claim the fold for this process (worker.json in an empty fold folder: what a killed attempt
        left is removed) and return a staging folder of its own, where the fold's files are written
        until save_fold moves them into place."""
        self.require_attempt(attempt)
        path = self.fold_path(member, fold)
        shutil.rmtree(path, ignore_errors=True)
        for stale in path.parent.glob(f".{path.name}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        write_json(path / "worker.json", {"worker": worker, "host": socket.gethostname(), "pid": os.getpid(),
                                          "attempt": attempt, "started": now()})
        staging = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}"
        staging.mkdir()
        return staging

    def claim_died(self, member, fold, attempt=None):
        """Whether the process that started this fold in this attempt ran on this machine and is gone
        without finishing it."""
        path = self.fold_path(member, fold)
        try:
            claim = json.loads((path / "worker.json").read_text())
        except (OSError, ValueError):
            return False
        return (not (path / RECORD).is_file() and claim.get("attempt") == attempt
                and claim.get("host") == socket.gethostname() and not pid_alive(int(claim.get("pid") or 0)))

    def save_fold(self, member, fold, features, model, predictions, info, features_path=None, attempt=None,
                  staging=None):
        """Write the fold's files into its `staging` folder (start_fold's), then, if this attempt still
        owns the run, move them into place with the record written last: a task of an attempt that a
        resumed run has superseded writes nothing into the run. `features_path` (relative to the run
        folder) names fitted features another member saved for this fold; without it they are saved here."""
        path = self.fold_path(member, fold)
        staging = Path(staging or path)
        try:
            if features_path is None:
                save_object(features, staging / "features.skops")
                features_path = (path / "features.skops").relative_to(self.path).as_posix()
            model.save(staging)
            for name, array in predictions.items():
                save_array(staging / f"{name}.npy", array)
            self.require_attempt(attempt)
            if staging != path:
                shutil.copy2(path / "worker.json", staging / "worker.json")
            saved_features = staging / Path(features_path).name if features_path.startswith(
                path.relative_to(self.path).as_posix() + "/") else self.path / features_path
            record = {"member": member, "fold": fold, **info, "files": folder_records(staging),
                      "features": {"path": features_path, **file_record(saved_features)}}
            write_json(staging / RECORD, record)
            if staging != path:
                self.require_attempt(attempt)
                retired = path.parent / f".{path.name}.retired-{uuid.uuid4().hex[:8]}"
                path.rename(retired)
                staging.rename(path)
                shutil.rmtree(retired, ignore_errors=True)
        except BaseException:
            if staging != path:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        return record

    def fold_array(self, member, fold, name):
        return np.load(self.fold_path(member, fold) / f"{name}.npy", allow_pickle=False)

    def load_features(self, record):
        """The fitted features a finished fold's record names."""
        return load_object(self.path / record["features"]["path"])

    def load_model(self, member, fold, model):
        """The fitted model of a finished fold, loaded into `model`, an unfitted estimator of the member."""
        return model.load(self.fold_path(member, fold))

    # --- run-level outputs ----------------------------------------------------------------------

    def save_predictions(self, arrays):
        for name, array in arrays.items():
            save_array(self.path / "predictions" / f"{name}.npy", array)

    def predictions(self, name):
        path = self.path / "predictions" / f"{name}.npy"
        if not path.is_file():
            raise UserError(f"{path} is missing: the run folder is incomplete")
        return np.load(path, allow_pickle=False)

    def complete(self, **extra):
        files = {name: record for name, record in folder_records(self.path).items()
                 if not name.startswith("members/") and name != STATUS}
        self.set_status("complete", files=files, **extra)


def save_array(path, array):
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, np.asarray(array), allow_pickle=False)


def differences(recorded, current, keys=("competition", "preset", "members", "folds", "seed", "refit", "threads")):
    """What differs between a run's config and this command's, as readable phrases."""
    found = [f"{key}: the run has {recorded.get(key)!r}, this command {current.get(key)!r}"
             for key in keys if recorded.get(key) != current.get(key)]
    old, new = recorded.get("params", {}), current.get("params", {})
    found += [f"parameter {key}: the run has {old.get(key)!r}, this command {new.get(key)!r}"
              for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
    old, new = recorded.get("inputs", {}), current.get("inputs", {})
    found += [f"data file {name}: " + ("missing now" if name not in new else "not read by the run" if name not in old
                                       else "its contents differ (sha256)")
              for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    return found
