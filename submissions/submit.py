"""Submitting a validated file to Kaggle and listing the scores of recent submissions."""
from pathlib import Path

from pipelines.data import read_csv
from pipelines.errors import UserError
from pipelines.kaggle_client import connect, kaggle_errors

from .validate import validate


def validate_file(competition, path, data_dir):
    """The same checks `pipelines.run` applies before it writes a submission."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; give the path of a submission CSV")
    sample = read_csv(Path(data_dir) / competition.sample_submission)
    frame = read_csv(path)
    frame.columns = frame.columns.astype(str)
    return validate(frame, sample, competition.check_submission, source=str(path))


def require_message(message):
    if not (message and message.strip()):
        raise UserError("a submission needs a message: add -m 'what changed'")


def submit(competition, path, message, log=print):
    """Upload `path` (already validated) as a submission; returns Kaggle's message."""
    require_message(message)
    api = connect()
    slug = competition.slug
    with kaggle_errors(f"submitting to {slug}", slug):
        result = api.competition_submit(str(path), message, slug, quiet=True)
    if not getattr(result, "ref", 0):  # the client returns (not raises) a failed upload
        raise UserError(f"Kaggle did not accept the upload of {path} ({getattr(result, 'message', result)}); retry")
    log(f"submitted {path} to {slug}: {result.message}")
    log(f"see its score with: python -m pipelines.submit {competition.name} --status")
    return result.message


def status(competition, limit=10, log=print):
    """The most recent submissions: date, status, public and private scores, file, message."""
    api = connect()
    slug = competition.slug
    with kaggle_errors(f"listing the submissions to {slug}", slug):
        submissions = api.competition_submissions(slug)[:limit]
    if not submissions:
        log(f"no submissions to {slug} yet")
        return []
    rows = [("date", "status", "public", "private", "file", "message")]
    for entry in submissions:
        state = getattr(entry.status, "name", str(entry.status))
        note = entry.error_description if state == "ERROR" and entry.error_description else entry.description
        rows.append((f"{entry.date:%Y-%m-%d %H:%M}" if entry.date else "", state, entry.public_score or "-",
                     entry.private_score or "-", entry.file_name, note))
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    for row in rows:
        log("  ".join(str(value).ljust(width) for value, width in zip(row, widths)) + "  " + str(row[5]))
    return submissions
