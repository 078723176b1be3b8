import zipfile

import numpy as np
import pandas as pd
import pytest

import competitions
import features.images
from features.archives import Archive
from features.embeddings import image_keys
from features.images import ImageSource, cached_images, pixel_keys
from pipelines.core.errors import UserError
from tests.synthetic import make_cifar, png_bytes, seven_zip_with_entry, zip_with

CIFAR = competitions.get("cifar10")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(folder))
    return folder


@pytest.mark.parametrize("layout", ["zip", "7z", "folder"])
def test_load_from_any_layout(tmp_path, cache_dir, layout):
    data = CIFAR.load(make_cifar(tmp_path / layout, layout=layout))
    assert data.X.shape == (80, 32, 32, 3) and data.X.dtype == np.uint8
    assert data.X_test.shape == (30, 32, 32, 3)
    assert data.y.tolist() == [i % 10 for i in range(80)]
    reference = CIFAR.load(make_cifar(tmp_path / "reference", layout="folder"))
    np.testing.assert_array_equal(data.X, reference.X)  # same pixels whatever the container


def test_images_are_decoded_once_and_rebuilt_when_the_source_changes(tmp_path, cache_dir):
    folder = make_cifar(tmp_path / "data")
    logs = []
    source = ImageSource(folder, "train")
    first = cached_images(source, range(1, 81), "c", log=logs.append)
    arrays = [path for path in (cache_dir / "c").glob("*.npy") if not path.name.endswith(".keys.npy")]
    assert len(logs) == 1 and len(arrays) == 1
    again = cached_images(ImageSource(folder, "train"), range(1, 81), "c", log=logs.append)
    assert len(logs) == 1  # served from the cache, nothing decoded
    np.testing.assert_array_equal(first, again)

    # replace one image in the archive: the cache notices and decodes anew
    with zipfile.ZipFile(folder / "train.zip") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["train/5.png"] = png_bytes(np.full((32, 32, 3), 7, dtype=np.uint8))
    with zipfile.ZipFile(folder / "train.zip", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    rebuilt = cached_images(ImageSource(folder, "train"), range(1, 81), "c", log=logs.append)
    assert len(logs) == 2
    assert (rebuilt[4] == 7).all() and not (first[4] == 7).all()


def test_pixel_keys_are_hashed_once_per_cache_and_follow_the_rows(tmp_path, cache_dir, monkeypatch):
    folder = make_cifar(tmp_path / "data")
    images = cached_images(ImageSource(folder, "train"), range(1, 81), "c")
    expected = pixel_keys(np.asarray(images))
    np.testing.assert_array_equal(image_keys(images), expected)
    hashed = []
    monkeypatch.setattr(features.images, "pixel_keys", lambda rows: hashed.append(len(rows)) or expected[:len(rows)])
    again = cached_images(ImageSource(folder, "train"), range(1, 81), "c")  # keys read back, not hashed
    rows = np.array([5, 2, 70])
    for selected, keys in ((again[rows], expected[rows]), (again[10:20], expected[10:20]),
                           (again[list(rows)], expected[rows]), (again[again[:, 0, 0, 0] > 100], None)):
        if keys is None:
            keys = expected[np.asarray(images)[:, 0, 0, 0] > 100]
        np.testing.assert_array_equal(image_keys(selected), keys)  # a fold's rows keep their keys
    assert hashed == []
    assert getattr(again[3], "image_keys", None) is None  # one image, or computed pixels: no keys
    assert getattr(again[:, :16], "image_keys", None) is None
    assert getattr(again.astype(np.float32) / 255, "image_keys", None) is None


def test_corrupt_image_is_named(tmp_path, cache_dir):
    folder = make_cifar(tmp_path / "data", layout="folder")
    (folder / "train" / "7.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(UserError, match=r"train/7.png: cannot decode this image"):
        CIFAR.load(folder)
    assert not list(cache_dir.rglob("*.npy"))  # nothing half-written


def test_unknown_label(tmp_path, cache_dir):
    folder = make_cifar(tmp_path / "data")
    labels = pd.read_csv(folder / "trainLabels.csv")
    labels.loc[3, "label"] = "submarine"
    labels.to_csv(folder / "trainLabels.csv", index=False)
    with pytest.raises(UserError, match=r"row 5: label 'submarine' is not one of the 10 classes .* declared classes"):
        CIFAR.load(folder)


def test_label_without_image(tmp_path, cache_dir):
    folder = make_cifar(tmp_path / "data")
    labels = pd.read_csv(folder / "trainLabels.csv")
    pd.concat([labels, pd.DataFrame({"id": [999], "label": ["cat"]})]).to_csv(folder / "trainLabels.csv", index=False)
    with pytest.raises(UserError, match=r"trainLabels.csv lists id 999 but .*train.zip has no image for it"):
        CIFAR.load(folder)


def test_missing_image_archive(tmp_path, cache_dir):
    folder = make_cifar(tmp_path / "data")
    (folder / "test.zip").unlink()
    with pytest.raises(UserError, match="has neither test/ nor test.zip or test.7z"):
        CIFAR.load(folder)


@pytest.mark.parametrize("name, symlink, message", [
    ("../evil.png", False, "outside the extraction folder"),
    ("train/../../evil.png", False, "outside the extraction folder"),
    ("/etc/evil.png", False, "absolute path"),
    ("C:/evil.png", False, "absolute path"),
    ("train/link.png", True, "is a link"),
])
def test_malicious_zip_entries_are_refused(tmp_path, name, symlink, message):
    archive = zip_with(tmp_path / "train.zip", name, data=b"/etc/passwd" if symlink else b"x", symlink=symlink)
    with pytest.raises(UserError, match=message):
        Archive(archive)
    target = tmp_path / "out"
    with pytest.raises(UserError):
        Archive(archive).extract(target)
    assert not target.exists() and not (tmp_path / "evil.png").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["train.zip"]


@pytest.mark.parametrize("name, message", [("../evil.png", "outside"), ("/tmp/evil.png", "absolute path")])
def test_malicious_7z_entries_are_refused(tmp_path, name, message):
    with pytest.raises(UserError, match=message):
        Archive(seven_zip_with_entry(tmp_path / "train.7z", name))


def test_extract_is_atomic_and_idempotent(tmp_path):
    folder = make_cifar(tmp_path / "data", n_train=12, n_test=3)
    target = Archive(folder / "train.zip").extract(tmp_path / "extracted")
    assert sorted(p.name for p in (target / "train").iterdir())[:2] == ["1.png", "10.png"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    assert Archive(folder / "train.zip").extract(target) == target
