"""Optuna storage: SQLite by default, PostgreSQL to share one study between machines.

A worker records host:pid on each trial. On start, RUNNING trials of this host whose
process is gone (killed with SIGKILL, power loss) are marked FAIL at once; heartbeats
do the same, after a grace period, for workers that died on other machines.
"""
import os
import socket
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.trial import TrialState
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from pipelines.core.errors import UserError
from pipelines.record.runfolder import pid_alive

DEFAULT_STORAGE = "sqlite:///runs/optuna.db"
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
WORKER = f"{socket.gethostname()}:{os.getpid()}"
EXAMPLES = "e.g. sqlite:///runs/optuna.db or postgresql://user:password@host:5432/database"


def redact(url):
    """The URL without its password, safe to print."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


def absolute_url(url):
    """The storage URL with a relative SQLite path made absolute, so workers elsewhere find the file."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        return parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)
    return url


def open_storage(url):
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UserError(f"--storage is not a database URL; use one like {EXAMPLES}") from None
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs = {"pool_pre_ping": True}
    if parsed.drivername.startswith("postgresql"):
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats
    try:
        for attempt in range(3):
            try:
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                )
            except IntegrityError:
                # workers started together race to create the tables; the loser finds them made
                if attempt == 2:
                    raise
                time.sleep(1 + attempt)
    except (SQLAlchemyError, ImportError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "database is locked" in reason:
            raise locked(url) from None
        reason = reason.replace(parsed.password or "\0", "***")
        raise UserError(f"cannot open the study storage {redact(url)}: {reason}; check the URL, "
                        f"that the server runs and accepts you ({EXAMPLES})") from None


def locked(url):
    return UserError(f"the study in {redact(url)} is locked by another process writing to it: SQLite serves one "
                     "writer at a time, so tune with --workers 1 on it, or keep the study in PostgreSQL "
                     "(--storage postgresql://user:password@host:5432/database) for several workers")


@contextmanager
def unlocked(url):
    """SQLite's "database is locked" (workers that write one study file at once) as one error naming
    the fix; any other error passes."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - only the lock is ours to explain
        if "database is locked" not in str(error):
            raise
        raise locked(url) from None


def fail_dead_local_trials(study):
    """Mark FAIL the RUNNING trials whose worker ran on this host and is gone; returns their numbers."""
    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed
