"""Errors a user can meet, reported as one line without a traceback.

UserError: bad input (the message names the problem and the fix), exit code 2.
CodeError: an exception raised inside a competition's own code (a feature step, a member, a
loader), named by the innermost frame in that code; exit code 1, the whole traceback printed
only with --debug (and kept in the run's status.json).
"""
import errno
import functools
import os
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the project folder


class UserError(Exception):
    """Bad input: the message names the problem and the fix."""


class ModelFailed(UserError):
    """A model that could not be trained as set (it diverged, or ran out of memory): the message names
    the member, the fold and the setting to change. A search records the trial as failed and goes on."""


def first_line(error):
    """An exception as one line: its message's first line, or its type's name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class CodeError(Exception):
    """An exception in a competition's own code: `message` names where, `details` is its traceback."""

    def __init__(self, message, details=""):
        super().__init__(message, details)
        self.message, self.details = message, details

    def __str__(self):
        return self.message


def user_code_folders():
    """Where a competition's own code lives: competitions/ and PIPELINES_COMPETITIONS. Not features/:
    its steps are the project's, so a bug there keeps its whole traceback like any engine bug."""
    extra = [Path(folder).resolve() for folder in os.environ.get("PIPELINES_COMPETITIONS", "").split(os.pathsep)
             if folder]
    return [REPO / "competitions", *extra]


def as_code_error(error):
    """A CodeError naming the innermost frame of a competition's own code that `error` passed
    through, or None when it came from elsewhere (a bug of the engine keeps its traceback)."""
    if isinstance(error, CodeError):
        return error
    if isinstance(error, UserError) or type(error).__name__ == "TrialPruned":  # meant for the user, or for Optuna
        return None
    folders = user_code_folders()
    found = []  # the frames in the competition's own code, outermost first
    for frame, line in traceback.walk_tb(error.__traceback__):
        path = Path(frame.f_code.co_filename).resolve()
        if any(path.is_relative_to(folder) for folder in folders):
            found.append((frame, line, path))
    if not found:
        return None
    _, line, path = found[-1]  # where it happened
    named = [frame for frame, _, _ in found if not frame.f_code.co_name.startswith("<")]  # not a comprehension
    frame = named[-1] if named else found[-1][0]
    owner = frame.f_locals.get("self")
    name = frame.f_code.co_name if owner is None else f"{type(owner).__name__}.{frame.f_code.co_name}"
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return CodeError(f"{type(error).__name__}{': ' + text if text else ''} in {name} ({shown}:{line}); "
                     "rerun with --debug for the whole traceback", details)


FULL = (errno.ENOSPC, errno.EDQUOT)
DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def disk_problem(error):
    """A full disk or a file this process may not write, as one line naming the place and the fix
    (None for any other error)."""
    if not isinstance(error, OSError) or error.errno not in FULL + DENIED:
        return None
    where = error.filename or "a file"
    if error.errno in FULL:
        return (f"no space left on the disk that holds {where}: free some space, or put the runs "
                "(PIPELINES_RUNS_DIR), caches (PIPELINES_CACHE_DIR) and submissions on a larger disk")
    return (f"not allowed to write {where} ({error.strerror}): run where you may write, or point "
            "PIPELINES_RUNS_DIR, PIPELINES_CACHE_DIR and --submission at folders you own")


def cli_main(main):
    """Run a command's main(); turn a UserError (or a full disk, a file it may not write) into one
    line on stderr and exit code 2, an exception in a competition's own code into one line and exit
    code 1 (--debug: its traceback)."""

    @functools.wraps(main)
    def wrapper(argv=None):
        debug = "--debug" in (sys.argv[1:] if argv is None else argv)
        try:
            return main(argv)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception as error:  # noqa: BLE001 - only a competition's own code is reported this way
            if disk_problem(error):
                print(f"error: {disk_problem(error)}", file=sys.stderr)
                sys.exit(2)
            code_error = as_code_error(error)
            if code_error is None:
                raise
            if debug:
                print(code_error.details, file=sys.stderr, end="")
            print(f"error: {code_error}", file=sys.stderr)
            sys.exit(1)

    return wrapper
