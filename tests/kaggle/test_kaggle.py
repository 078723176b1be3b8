"""Download, submit and status through the real `kaggle` client against a local stand-in API."""
import base64
import io
import json
import zipfile

import pandas as pd
import pytest

from pipelines import download as download_cli
from pipelines import run as run_cli
from pipelines import runs as runs_cli
from pipelines import submit as submit_cli
from pipelines.kaggle import data as kaggle_data
from pipelines.kaggle.client import has_credentials, redact
from tests.kaggle_standin import KaggleStandIn
from tests.synthetic import make_house_prices, seven_zip_with_entry, zip_with

SLUG = "house-prices-advanced-regression-techniques"
USER, KEY = "alice", "secretkey123"
SECRETS = (KEY, base64.b64encode(f"{USER}:{KEY}".encode()).decode())


@pytest.fixture
def credentials(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    for name in ("KAGGLE_API_TOKEN", "VERBOSE", "VERBOSE_OUTPUT", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the client's retry back-off


@pytest.fixture
def kaggle(credentials):
    with KaggleStandIn() as standin:
        yield standin


def house_archive(tmp_path):
    """Kaggle's archive of the (synthetic) House Prices files, as bytes."""
    folder = make_house_prices(tmp_path / "source")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    return buffer.getvalue(), folder


def fails(main, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and not any(secret in out + err for secret in SECRETS)
    return err


def test_download_extracts_records_and_then_verifies(kaggle, tmp_path, capsys):
    data, source = house_archive(tmp_path)
    kaggle.archives[SLUG] = (f"{SLUG}.zip", data)
    target = tmp_path / "data" / SLUG
    download_cli.main(["house_prices", "--data-dir", str(target)])
    assert sorted(p.name for p in target.iterdir()) == sorted([*(p.name for p in source.iterdir()),
                                                               kaggle_data.MANIFEST])
    assert (target / "train.csv").read_bytes() == (source / "train.csv").read_bytes()
    manifest = json.loads((target / kaggle_data.MANIFEST).read_text())
    assert manifest["archive"]["size"] == len(data)
    assert manifest["files"]["train.csv"]["sha256"] == kaggle_data.sha256(source / "train.csv")
    assert [p.name for p in target.parent.iterdir()] == [SLUG]  # no staging or temporary folder left
    assert len(kaggle.calls("DownloadDataFiles")) == 1
    # the Basic authorization the client sent carries these credentials
    assert kaggle.calls("DownloadDataFiles")[0][2]["Authorization"] == f"Basic {SECRETS[1]}"

    download_cli.main(["house_prices", "--data-dir", str(target)])  # verified, nothing downloaded
    assert "nothing to download" in capsys.readouterr().out
    assert len(kaggle.calls("DownloadDataFiles")) == 1

    (target / "test.csv").write_text("tampered\n")
    err = fails(download_cli.main, ["house_prices", "--data-dir", str(target)], capsys)
    assert f"{target / 'test.csv'} changed since the download" in err and "--force" in err
    download_cli.main(["house_prices", "--data-dir", str(target), "--force"])
    assert (target / "test.csv").read_bytes() == (source / "test.csv").read_bytes()
    assert len(kaggle.calls("DownloadDataFiles")) == 2


def test_download_extracts_7z(kaggle, tmp_path):
    import py7zr

    archive = tmp_path / "files.7z"
    with py7zr.SevenZipFile(archive, "w") as seven:
        seven.writestr(b"id,label\n1,cat\n", "trainLabels.csv")
        seven.writestr(b"png", "train/1.png")
    kaggle.archives[SLUG] = (f"{SLUG}.7z", archive.read_bytes())
    target = tmp_path / "data"
    download_cli.main(["house_prices", "--data-dir", str(target)])
    assert (target / "trainLabels.csv").read_text() == "id,label\n1,cat\n"
    assert (target / "train" / "1.png").read_bytes() == b"png"


def test_a_file_that_is_not_an_archive_is_refused(kaggle, tmp_path, capsys):
    kaggle.archives[SLUG] = (f"{SLUG}.html", b"<html>maintenance</html>")
    err = fails(download_cli.main, ["house_prices", "--data-dir", str(tmp_path / "data" / SLUG)], capsys)
    assert "not a zip or 7z archive" in err
    assert not any((tmp_path / "data").iterdir())


@pytest.mark.parametrize("kind, name, message", [
    ("zip", "../evil.csv", "outside the extraction folder"),
    ("zip", "/tmp/evil.csv", "absolute path"),
    ("zip-link", "train/evil.csv", "is a link"),
    ("7z", "../evil.csv", "outside the extraction folder"),
])
def test_malicious_archives_are_refused(kaggle, tmp_path, capsys, kind, name, message):
    if kind == "7z":
        archive = seven_zip_with_entry(tmp_path / "bad.7z", name)
    else:
        archive = zip_with(tmp_path / "bad.zip", name, data=b"../../etc/passwd", symlink=kind == "zip-link")
    kaggle.archives[SLUG] = (f"{SLUG}{archive.suffix}", archive.read_bytes())
    target = tmp_path / "data" / SLUG
    err = fails(download_cli.main, ["house_prices", "--data-dir", str(target)], capsys)
    assert message in err
    assert not target.exists() and not (tmp_path / "evil.csv").exists() and not (tmp_path / "data" / "evil.csv").exists()
    assert [p.name for p in (tmp_path / "data").iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize("failure, message", [
    ({"rpc": 401}, "Kaggle rejected the credentials (401 Unauthorized)"),
    ({"rpc": 403}, f"accept the competition's rules at https://www.kaggle.com/competitions/{SLUG}/rules"),
    ({"rpc": "drop"}, "network error while downloading"),
    ({"file": "drop"}, "network error while downloading"),
    ({"file": "truncate"}, "network error while downloading"),
])
def test_download_failures_are_one_clear_error(kaggle, tmp_path, capsys, failure, message):
    kaggle.archives[SLUG] = (f"{SLUG}.zip", house_archive(tmp_path)[0])
    kaggle.failures.update(failure)
    target = tmp_path / "data" / SLUG
    err = fails(download_cli.main, ["house_prices", "--data-dir", str(target)], capsys)
    assert message in err
    assert not target.exists()  # nothing that looks like a complete data folder
    assert not any(target.parent.iterdir())  # and no staging or temporary folder left behind


def test_unknown_competition_on_kaggle(kaggle, tmp_path, capsys):
    err = fails(download_cli.main, ["house_prices", "--data-dir", str(tmp_path / "data")], capsys)
    assert f"Kaggle has no competition '{SLUG}' (404 Not Found)" in err


def test_missing_credentials(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert not has_credentials()
    err = fails(download_cli.main, ["house_prices", "--data-dir", str(tmp_path / "data")], capsys)
    assert "no Kaggle credentials: set KAGGLE_API_TOKEN, or KAGGLE_USERNAME and KAGGLE_KEY" in err
    # without credentials a missing data folder is not downloaded: the run says how to get it
    err = fails(run_cli.main, ["house_prices", "--data-dir", str(tmp_path / "data")], capsys)
    assert "python -m pipelines.download house_prices" in err
    err = fails(run_cli.main, ["house_prices", "--submit", "-m", "x"], capsys)
    assert "--submit needs Kaggle credentials" in err


def test_redact_hides_key_and_basic_header(credentials):
    text = redact(f"failed with key {KEY} and header Basic {SECRETS[1]}")
    assert KEY not in text and SECRETS[1] not in text and "***" in text


@pytest.fixture
def house_files(tmp_path):
    return make_house_prices(tmp_path / SLUG)


def valid_submission(house_files, path):
    sample = pd.read_csv(house_files / "sample_submission.csv")
    sample["SalePrice"] = 180000.0
    sample.to_csv(path, index=False)
    return path


def test_submit_uploads_the_validated_file(kaggle, house_files, tmp_path, in_tmp, capsys):
    kaggle.archives[SLUG] = (f"{SLUG}.zip", b"")
    path = valid_submission(house_files, tmp_path / "submission.csv")
    submit_cli.main(["house_prices", str(path), "-m", "first try", "--data-dir", str(house_files)])
    out = capsys.readouterr().out
    assert f"Successfully submitted to {SLUG}" in out
    assert list(kaggle.uploads.values()) == [path.read_bytes()]
    start, create = kaggle.calls("StartSubmissionUpload")[0][3], kaggle.calls("CreateSubmission")[0][3]
    assert start["fileName"] == "submission.csv" and start["contentLength"] == path.stat().st_size
    assert create == {"competitionName": SLUG, "blobFileTokens": "blob-1", "submissionDescription": "first try"}
    [entry] = json.loads((in_tmp / "runs/house_prices/kaggle-submissions.json").read_text())
    assert entry["ref"] == 4242 and entry["message"] == "first try" and entry["file"] == str(path.resolve())


def test_submit_dry_run_and_invalid_files_send_nothing(kaggle, house_files, tmp_path, capsys):
    path = valid_submission(house_files, tmp_path / "submission.csv")
    submit_cli.main(["house_prices", str(path), "--dry-run", "--data-dir", str(house_files)])
    assert "valid house_prices submission (dry run" in capsys.readouterr().out
    frame = pd.read_csv(path)
    frame.loc[3, "SalePrice"] = -1
    frame.to_csv(path, index=False)
    err = fails(submit_cli.main, ["house_prices", str(path), "-m", "x", "--data-dir", str(house_files)], capsys)
    assert "row 5 has a value that is not a finite number > 0" in err
    err = fails(submit_cli.main, ["house_prices", str(path), "--data-dir", str(house_files)], capsys)
    assert "a submission needs a message" in err
    assert kaggle.requests == []


@pytest.mark.parametrize("failure, message", [
    ({"upload": 403}, "Kaggle did not accept the upload"),
    ({"upload": "drop"}, "Kaggle did not accept the upload"),
    ({"rpc": 403}, "accept the competition's rules"),
])
def test_submit_failures(kaggle, house_files, tmp_path, capsys, failure, message):
    kaggle.archives[SLUG] = (f"{SLUG}.zip", b"")
    kaggle.failures.update(failure)
    path = valid_submission(house_files, tmp_path / "submission.csv")
    err = fails(submit_cli.main, ["house_prices", str(path), "-m", "x", "--data-dir", str(house_files)], capsys)
    assert message in err
    assert kaggle.calls("CreateSubmission") == []


def test_status_lists_recent_submissions(kaggle, in_tmp, capsys):
    kaggle.archives[SLUG] = (f"{SLUG}.zip", b"")
    kaggle.submissions = [
        {"ref": 2, "date": "2026-05-02T10:00:00Z", "description": "blend", "fileName": "b.csv",
         "status": "COMPLETE", "publicScore": "0.11950", "privateScore": ""},
        {"ref": 1, "date": "2026-05-01T09:30:00Z", "description": "mlp", "fileName": "a.csv",
         "status": "ERROR", "errorDescription": "Submission must have 1459 rows"},
    ]
    submit_cli.main(["house_prices", "--status"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["date", "status", "public", "private", "file", "message"]
    assert lines[1].split() == ["2026-05-02", "10:00", "COMPLETE", "0.11950", "-", "b.csv", "blend"]
    assert "ERROR" in lines[2] and lines[2].endswith("Submission must have 1459 rows")


def test_run_downloads_missing_data_and_submits(kaggle, tmp_path, in_tmp, capsys):
    data, _ = house_archive(tmp_path)
    kaggle.archives[SLUG] = (f"{SLUG}.zip", data)
    target = tmp_path / "data" / SLUG
    run_cli.main(["house_prices", "--data-dir", str(target), "--folds", "2", "--set", "models=lasso",
                  "--submission", "s.csv", "--submit", "-m", "lasso baseline"])
    out = capsys.readouterr().out
    assert "downloading it with the Kaggle API" in out and "CV rmsle" in out
    assert list(kaggle.uploads.values()) == [(in_tmp / "s.csv").read_bytes()]
    assert kaggle.calls("CreateSubmission")[0][3]["submissionDescription"] == "lasso baseline"
    assert out.rstrip().splitlines()[-1] == "s.csv"  # the last line is still the submission's path

    # once the status listing has seen the submission scored, the table of runs shows its public score
    kaggle.submissions = [{"ref": 4242, "date": "2026-05-02T10:00:00Z", "description": "lasso baseline",
                           "fileName": "s.csv", "status": "COMPLETE", "publicScore": "0.12345", "privateScore": ""}]
    submit_cli.main(["house_prices", "--status"])
    capsys.readouterr()
    runs_cli.main(["house_prices", "--csv"])
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert table.public_score.tolist() == [pytest.approx(0.12345)] and table.submission.tolist() == ["s.csv"]
