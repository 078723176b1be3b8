"""A competition's files from Kaggle: the archive downloaded into a hidden folder beside the data
folder, then extracted (zip or 7z, entries checked) through a temporary folder that is renamed into
place once complete. The manifest in the data folder records the size and sha256 of the archive
and of every extracted file; later calls verify the files against it and download nothing.
"""
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from features.archives import ARCHIVE_SUFFIXES, Archive
from pipelines.core.data import data_folder, locate
from pipelines.core.errors import UserError
from pipelines.core.files import file_record, folder_records, sha256
from pipelines.kaggle.client import connect, has_credentials, kaggle_errors

MANIFEST = "download-manifest.json"


def verify(data_dir, competition):
    """Every file the manifest lists, with its recorded size and sha256."""
    manifest = json.loads((data_dir / MANIFEST).read_text())
    fix = f"download again with: python -m pipelines.download {competition.name} --data-dir {data_dir} --force"
    for name, record in manifest["files"].items():
        path = data_dir / name
        if not path.is_file():
            raise UserError(f"{path} is missing since the download; {fix}")
        if path.stat().st_size != record["size"] or sha256(path) != record["sha256"]:
            raise UserError(f"{path} changed since the download (its size or sha256 differs from {MANIFEST}); {fix}")
    return manifest


def download(competition, data_dir, force=False, log=print):
    """The competition's files in data_dir, downloaded and extracted once, verified afterwards."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not force:
        if not (data_dir / MANIFEST).is_file():
            raise UserError(f"{data_dir} exists but was not downloaded by this command (no {MANIFEST}); "
                            "use it as it is, or add --force to replace it with Kaggle's files")
        manifest = verify(data_dir, competition)
        log(f"{data_dir}: {len(manifest['files'])} files match {MANIFEST}; nothing to download")
        return data_dir
    previous = json.loads((data_dir / MANIFEST).read_text()) if (data_dir / MANIFEST).is_file() else {}
    api = connect()
    staging = data_dir.parent / f".{data_dir.name}.download"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        log(f"downloading {competition.slug} from Kaggle into {data_dir}")
        archive = fetch(api, competition.slug, staging)
        record = {"name": archive.name, **file_record(archive)}
        if previous and previous["archive"]["sha256"] != record["sha256"]:
            log(f"note: Kaggle's archive for {competition.slug} differs from the one downloaded before")
        install(archive, data_dir, {"competition": competition.slug, "archive": record})
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the archive, or what a failed download left
    log(f"extracted {archive.name} ({record['size']} bytes, sha256 {record['sha256'][:12]}...) into {data_dir}")
    return data_dir


def fetch(api, slug, folder):
    """The competition's archive, downloaded into `folder` by the kaggle client."""
    with kaggle_errors(f"downloading {slug}", slug):
        api.competition_download_files(slug, path=str(folder), force=True, quiet=not sys.stdout.isatty())
    received = [path for path in folder.iterdir() if path.is_file() and not path.name.endswith(".kaggle-partial")]
    if len(received) != 1:
        raise UserError(f"Kaggle sent {len(received)} files for {slug}, expected one archive; retry later")
    return received[0]


def install(archive, data_dir, manifest):
    """Extract into data_dir; the manifest completes the temporary folder before its rename."""

    def write_manifest(folder):
        stamped = {**manifest, "downloaded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "files": folder_records(folder, skip=(MANIFEST,))}
        (folder / MANIFEST).write_text(json.dumps(stamped, indent=2) + "\n")

    if archive.suffix.lower() not in ARCHIVE_SUFFIXES:
        raise UserError(f"Kaggle sent {archive.name}, not a zip or 7z archive; retry later")
    Archive(archive).extract(data_dir, before_rename=write_manifest, replace=True)


def locate_or_download(data_dir, competition, log=print):
    """The data folder; a missing one is downloaded when Kaggle credentials are present."""
    data_dir = data_folder(data_dir, competition)
    if not data_dir.exists() and has_credentials():
        log(f"{data_dir} not found: downloading it with the Kaggle API")
        download(competition, data_dir, log=log)
    return locate(data_dir, competition)
