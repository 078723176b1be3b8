"""Submitting a validated file to Kaggle and listing the scores of recent submissions.

Each submission made here is also recorded in runs/NAME/kaggle-submissions.json (file, sha256,
message, Kaggle's reference); `status` fills in the scores Kaggle reports, so the table of
runs can show each run's public score.
"""
import json
from datetime import datetime, timezone
from pathlib import Path

from pipelines.core.data import read_csv
from pipelines.core.errors import UserError
from pipelines.core.files import sha256, write_json
from pipelines.kaggle.client import connect, kaggle_errors
from pipelines.record.runfolder import RUNS_DIR
from submissions.validate import validate


def validate_file(competition, path, data_dir):
    """The same checks `pipelines.run` applies before it writes a submission (label values against
    the classes of the training data, for competitions whose classes come from it)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; give the path of a submission CSV")
    sample = read_csv(Path(data_dir) / competition.sample_submission)
    frame = read_csv(path)
    frame.columns = frame.columns.astype(str)
    classes = competition.classes(Path(data_dir)) if competition.classes else None
    return validate(frame, sample, competition.check_submission, source=str(path), classes=classes)


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
    record_submission(competition, path, message, result.ref)
    log(f"submitted {path} to {slug}: {result.message}")
    log(f"see its score with: python -m pipelines.submit {competition.name} --status")
    return result.message


def ledger_path(competition_name):
    return RUNS_DIR / competition_name / "kaggle-submissions.json"


def read_ledger(competition_name):
    try:
        entries = json.loads(ledger_path(competition_name).read_text())
    except (OSError, ValueError):
        return []
    return entries if isinstance(entries, list) else []


def record_submission(competition, path, message, ref):
    entries = read_ledger(competition.name)
    entries.append({"ref": ref, "file": str(Path(path).resolve()), "sha256": sha256(path), "message": message,
                    "submitted": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    write_json(ledger_path(competition.name), entries)


def record_scores(competition, submissions):
    """Kaggle's status and scores onto the recorded submissions (matched by Kaggle's reference)."""
    entries = read_ledger(competition.name)
    by_ref = {getattr(entry, "ref", None): entry for entry in submissions}
    changed = False
    for entry in entries:
        found = by_ref.get(entry.get("ref"))
        if found is not None:
            entry.update(status=getattr(found.status, "name", str(found.status)),
                         public=found.public_score or None, private=found.private_score or None)
            changed = True
    if changed:
        write_json(ledger_path(competition.name), entries)


def status(competition, limit=10, log=print):
    """The most recent submissions: date, status, public and private scores, file, message."""
    api = connect()
    slug = competition.slug
    with kaggle_errors(f"listing the submissions to {slug}", slug):
        submissions = api.competition_submissions(slug)[:limit]
    if not submissions:
        log(f"no submissions to {slug} yet")
        return []
    record_scores(competition, submissions)
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
