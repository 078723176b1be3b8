"""Atomic file output (write to a temporary file beside the target, then rename) and file fingerprints."""
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def file_mode():
    """The mode a new file gets under this process's umask (a temporary file is made 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path):
    """Yield a temporary path; on success it replaces `path` (with the mode any new file gets), on
    error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path, text):
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(path):
    path = Path(path)
    return {"size": path.stat().st_size, "sha256": sha256(path)}


def folder_records(folder, skip=()):
    """{relative name: file_record} for every file below `folder` (names in `skip` left out)."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): file_record(path)
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name not in skip}


def fingerprint(path):
    """A file's size and sha256; for a folder, its file count, total size and one sha256 over
    the sorted names and contents of its files."""
    path = Path(path)
    if path.is_file():
        return file_record(path)
    records = folder_records(path)
    digest = hashlib.sha256("".join(f"{name}\0{r['sha256']}\n" for name, r in records.items()).encode())
    return {"files": len(records), "size": sum(r["size"] for r in records.values()), "sha256": digest.hexdigest()}
