"""Small competition folders in Kaggle's layout, generated for tests."""
from pathlib import Path

import numpy as np
import pandas as pd

HOUSE_DESCRIPTION = """MSSubClass: Identifies the type of dwelling involved in the sale.

        20\t1-STORY 1946 & NEWER ALL STYLES
        60\t2-STORY 1946 & NEWER

LotArea: Lot size in square feet

Neighborhood: Physical locations within Ames city limits

       NAmes\tNorth Ames
       OldTown\tOld Town

GarageType: Garage location

       Attchd\tAttached to home
       Detchd\tDetached from home
       NA\tNo Garage

GrLivArea: Above grade (ground) living area square feet

PoolQC: Pool quality

       Ex\tExcellent
       NA\tNo Pool
"""


def make_house_prices(folder, n_train=150, n_test=60, seed=0):
    """A House Prices look-alike: price depends on area, neighbourhood and garage."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    frame = pd.DataFrame({
        "Id": np.arange(1, n + 1),
        "MSSubClass": rng.choice([20, 60], n),
        "LotArea": rng.lognormal(9, 0.5, n).round(),
        "Neighborhood": rng.choice(["NAmes", "OldTown", "Edwards"], n),
        "GarageType": rng.choice(["Attchd", "Detchd", None], n),
        "GrLivArea": rng.normal(1500, 400, n).clip(500).round(),
        "PoolQC": rng.choice(["Ex", None], n, p=[0.05, 0.95]),
    })
    frame.loc[rng.choice(n, 10, replace=False), "LotArea"] = np.nan
    log_price = (11 + 0.0004 * frame.GrLivArea + 0.1 * (frame.Neighborhood == "NAmes")
                 + 0.1 * frame.GarageType.notna() + rng.normal(0, 0.05, n))
    frame["SalePrice"] = np.exp(log_price).round()
    train, test = frame.iloc[:n_train], frame.iloc[n_train:].drop(columns="SalePrice")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"Id": test.Id, "SalePrice": 180000.0}).to_csv(folder / "sample_submission.csv", index=False)
    (folder / "data_description.txt").write_text(HOUSE_DESCRIPTION)
    return folder


CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def png_bytes(array):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240], [240, 50, 230], [128, 128, 0], [0, 0, 128]])


def class_image(label, rng, size=32):
    """A noisy image whose colour tells its class (survives crops, flips and cutout)."""
    noise = rng.integers(-40, 40, (size, size, 3))
    return np.clip(PALETTE[label % len(PALETTE)] + noise, 0, 255).astype(np.uint8)


def write_images(folder, split, images, layout):
    """images: {id: uint8 array}; layout: 'folder', 'zip' or '7z'."""
    import zipfile

    files = {f"{split}/{image_id}.png": png_bytes(array) for image_id, array in images.items()}
    if layout == "folder":
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    elif layout == "zip":
        with zipfile.ZipFile(folder / f"{split}.zip", "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    else:
        import py7zr

        with py7zr.SevenZipFile(folder / f"{split}.7z", "w") as archive:
            for name, data in files.items():
                archive.writestr(data, name)


def make_cifar(folder, n_train=80, n_test=30, layout="zip", seed=0):
    """CIFAR-10 in Kaggle's layout: trainLabels.csv, sampleSubmission.csv, train/ and test/ PNGs."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n_train) % 10
    train = {i + 1: class_image(int(labels[i]), rng) for i in range(n_train)}
    test = {i + 1: class_image(int(rng.integers(10)), rng) for i in range(n_test)}
    write_images(folder, "train", train, layout)
    write_images(folder, "test", test, layout)
    pd.DataFrame({"id": list(train), "label": [CIFAR_CLASSES[k] for k in labels]}).to_csv(
        folder / "trainLabels.csv", index=False)
    pd.DataFrame({"id": list(test), "label": "cat"}).to_csv(folder / "sampleSubmission.csv", index=False)
    return folder


DOG_BREEDS = tuple(f"breed_{k:03d}" for k in range(120))


def jpeg_bytes(array):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def make_dog_breeds(folder, per_breed=2, n_test=12, size=64, seed=0):
    """Dog Breed Identification's layout: labels.csv, sample_submission.csv (id + 120 breeds),
    train.zip and test.zip of JPEGs named by hex ids."""
    import zipfile

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = [k for k in range(120) for _ in range(per_breed)]
    train_ids = [f"{rng.integers(2**62):016x}" for _ in labels]
    test_ids = [f"{rng.integers(2**62):016x}" for _ in range(n_test)]

    def image(k):
        colour = np.array([k * 2 % 256, (k * 37) % 256, (k * 91) % 256])
        return np.clip(colour + rng.integers(-20, 20, (size, size, 3)), 0, 255).astype(np.uint8)

    for split, ids, classes in (("train", train_ids, labels), ("test", test_ids, rng.integers(0, 120, n_test))):
        with zipfile.ZipFile(folder / f"{split}.zip", "w") as archive:
            for image_id, k in zip(ids, classes):
                archive.writestr(f"{split}/{image_id}.jpg", jpeg_bytes(image(int(k))))
    pd.DataFrame({"id": train_ids, "breed": [DOG_BREEDS[k] for k in labels]}).to_csv(folder / "labels.csv", index=False)
    sample = pd.DataFrame(1 / 120, index=range(n_test), columns=list(DOG_BREEDS))
    sample.insert(0, "id", test_ids)
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def zip_with(path, name, data=b"x", symlink=False):
    """A zip of one PNG plus the entry `name` (a link when `symlink`)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("train/1.png", png_bytes(np.zeros((32, 32, 3), np.uint8)))
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = 0o120777 << 16
        archive.writestr(info, data)
    return path


def seven_zip_with_entry(path, name):
    """A 7z whose entry is renamed after writing (py7zr refuses to write such names)."""
    import binascii
    import struct

    import py7zr

    placeholder = "a" * len(name)
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.set_encoded_header_mode(False)
        archive.writestr(b"x", placeholder)
    data = bytearray(path.read_bytes())
    start = data.find(placeholder.encode("utf-16-le"))
    data[start:start + 2 * len(name)] = name.encode("utf-16-le")
    offset, size, _ = struct.unpack("<QQI", data[12:32])
    data[28:32] = struct.pack("<I", binascii.crc32(bytes(data[32 + offset:32 + offset + size])))
    data[8:12] = struct.pack("<I", binascii.crc32(bytes(data[12:32])))
    path.write_bytes(bytes(data))
    return path


def make_table(folder, labels, n_train=240, n_test=60, seed=0, sample_columns=None):
    """A tabular competition in Kaggle's layout (train.csv, test.csv, sample_submission.csv) whose
    target is one of `labels`, picked by a nonlinear rule of two numeric and one categorical column,
    with missing values. `sample_columns`: the sample submission's columns after the id (default:
    the target), e.g. one per class."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    score = np.abs(x1) + 0.8 * (colour == "red") - 0.5 * x2 + rng.normal(0, 0.2, n)
    k = len(labels)
    bins = np.quantile(score, np.linspace(0, 1, k + 1)[1:-1])
    target = [labels[i] for i in np.digitize(score, bins)]
    frame = pd.DataFrame({"id": [f"{1000 + i}_{i % 3}" for i in range(n)], "x1": x1, "x2": x2, "colour": colour,
                          "noise": rng.normal(size=n)})
    frame.loc[rng.choice(n, 10, replace=False), "x2"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "colour"] = None
    frame["target"] = target
    train, test = frame.iloc[:n_train], frame.iloc[n_train:].drop(columns="target")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    sample = pd.DataFrame({"id": test.id})
    for column in sample_columns or ["target"]:
        sample[column] = labels[0] if sample_columns is None else 1 / len(sample_columns)
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def make_spaceship(folder, n_train=300, n_test=100, seed=0):
    """Spaceship Titanic's layout and columns; Transported depends on cryo sleep, spending and deck."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    groups = np.repeat(np.arange(1, n + 1), rng.integers(1, 4, n))[:n]
    place = pd.Series(groups).groupby(groups).cumcount() + 1
    asleep = rng.random(n) < 0.35
    spend = {c: np.where(asleep, 0.0, rng.exponential(300, n).round()) for c in
             ("RoomService", "FoodCourt", "ShoppingMall", "Spa", "VRDeck")}
    deck = rng.choice(list("ABCDEFG"), n)
    frame = pd.DataFrame({
        "PassengerId": [f"{g:04d}_{p:02d}" for g, p in zip(groups, place)],
        "HomePlanet": rng.choice(["Earth", "Europa", "Mars"], n),
        "CryoSleep": asleep,
        "Cabin": [f"{d}/{rng.integers(0, 1800)}/{rng.choice(['P', 'S'])}" for d in deck],
        "Destination": rng.choice(["TRAPPIST-1e", "55 Cancri e"], n),
        "Age": rng.integers(0, 70, n).astype(float), "VIP": rng.random(n) < 0.03, **spend,
        "Name": [f"Name{i} Family{rng.integers(0, 150)}" for i in range(n)],
    })
    total = sum(spend.values())
    frame["Transported"] = (asleep | (deck == "B")) & (total < 800) | (rng.random(n) < 0.1)
    for column in ("CryoSleep", "Cabin", "RoomService", "HomePlanet"):
        frame[column] = frame[column].astype(object)
        frame.loc[rng.choice(n, 8, replace=False), column] = None
    train, test = frame.iloc[:n_train], frame.iloc[n_train:].drop(columns="Transported")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"PassengerId": test.PassengerId, "Transported": False}).to_csv(
        folder / "sample_submission.csv", index=False)
    return folder


PETS = ("cat", "dog", "fox")
PET_COLOURS = {"cat": (200, 60, 60), "dog": (60, 200, 60), "fox": (60, 60, 200)}


def encoded_image(array, kind):
    """`array` (H, W, 3 uint8) encoded as: "jpeg", "png" (RGB), "gray" (L PNG), "palette" (P PNG)
    or "rgba" (PNG with an alpha channel)."""
    import io

    from PIL import Image

    image = Image.fromarray(array)
    image = {"gray": lambda: image.convert("L"), "palette": lambda: image.convert("P"),
             "rgba": lambda: image.convert("RGBA")}.get(kind, lambda: image)()
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if kind == "jpeg" else "PNG", quality=90)
    return buffer.getvalue(), ".jpg" if kind == "jpeg" else ".png"


def make_pets(folder, n_train=90, n_test=24, regression=False, layout="folder", seed=0):
    """A new image competition in Kaggle's layout: train.csv (id, label), train/ and test/ images
    named by ids with leading zeros, of mixed sizes (24-80 px, not square), modes and formats, and a
    sample submission. The class (cat, dog, fox) is the image's colour; with `regression`, the
    target is a number (the image's brightness, 0-100) and the column is `score`."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = ("jpeg", "png", "gray", "palette", "rgba")
    rows = {}
    for split, n in (("train", n_train), ("test", n_test)):
        files, targets = {}, []
        for i in range(n):
            image_id = f"{i if split == 'train' else 500 + i:05d}"  # leading zeros: 00042, 00500
            height, width = rng.integers(24, 81, 2)
            if regression:
                level = rng.uniform(0, 1)
                array = np.full((height, width, 3), 40 + 180 * level)
                targets.append(round(100 * level, 2))
                kind = kinds[i % 2]  # colour formats: grayscale keeps brightness anyway
            else:
                pet = PETS[i % 3]
                array = np.broadcast_to(PET_COLOURS[pet], (height, width, 3)).astype(float)
                targets.append(pet)
                kind = kinds[i % 5]  # every class in every format
            array = np.clip(array + rng.normal(0, 12, array.shape), 0, 255).astype(np.uint8)
            data, suffix = encoded_image(array, kind)
            files[f"{split}/{image_id}{suffix}"] = data
        rows[split] = ([name.split("/")[1].split(".")[0] for name in files], targets)
        if layout == "folder":
            for name, data in files.items():
                (folder / name).parent.mkdir(exist_ok=True)
                (folder / name).write_bytes(data)
        else:
            import zipfile

            with zipfile.ZipFile(folder / f"{split}.zip", "w") as archive:
                for name, data in files.items():
                    archive.writestr(name, data)
    target = "score" if regression else "label"
    pd.DataFrame({"id": rows["train"][0], target: rows["train"][1]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": rows["test"][0], target: 50.0 if regression else "cat"}).to_csv(
        folder / "sample_submission.csv", index=False)
    return folder


SENTIMENT_WORDS = {"negative": ("awful", "delayed", "rude", "lost", "terrible", "worst"),
                   "neutral": ("flight", "gate", "tomorrow", "schedule", "seat", "today"),
                   "positive": ("great", "thanks", "love", "amazing", "kind", "best")}
FILLER = ("the", "my", "a", "was", "and", "to", "on", "this", "with", "our", "crew", "plane", "trip", "again")


def make_tweets(folder, n_train=300, n_test=80, seed=0, extra_columns=False):
    """Kaggle's text layout: train.csv (id, text, sentiment), test.csv, sample_submission.csv with a
    probability column per class; each tweet holds a word or two of its class among filler words."""
    rng = np.random.default_rng(seed)
    classes = tuple(SENTIMENT_WORDS)
    labels = rng.choice(classes, n_train + n_test)
    texts = []
    for label in labels:
        words = [*rng.choice(FILLER, rng.integers(5, 12)), *rng.choice(SENTIMENT_WORDS[label], rng.integers(1, 3))]
        rng.shuffle(words)
        texts.append(f"@airline {' '.join(words)} #{rng.integers(1000)}")
    frame = pd.DataFrame({"id": np.arange(n_train + n_test) + 100, "text": texts})
    if extra_columns:
        frame["followers"] = rng.integers(0, 5000, len(frame))
    folder.mkdir(parents=True, exist_ok=True)
    train = frame.iloc[:n_train].assign(sentiment=labels[:n_train])
    train.to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].to_csv(folder / "test.csv", index=False)
    sample = pd.DataFrame({"id": frame.id.iloc[n_train:], **{name: 1 / 3 for name in classes}})
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def make_playground(folder, target, labels=None, form="label", n_train=400, n_test=100, seed=0, weights=None,
                    text=False, noise=0.3):
    """A playground-series table in Kaggle's layout: numbers and a category deciding `target`, one of
    `labels` (drawn with `weights`, by quantiles of a score with `noise`) or, without labels, a positive
    number.
    The sample submission's form: "label", "topK" (K labels, space-separated), "prefixed" (a probability
    column per class named target_class, Kaggle's Status_C) or "number". `text`: a tweet column too."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    frame = pd.DataFrame({"id": np.arange(n) + 7000, "Temparature": rng.normal(30, 5, n).round(1),
                          "Moisture": rng.uniform(20, 70, n).round(1), "Soil Type": rng.choice(["Sandy", "Clayey",
                                                                                                "Loamy"], n),
                          "Nitrogen": rng.integers(0, 45, n)})
    score = ((frame.Temparature - 30) / 5 + np.sin(frame.Moisture / 8) + (frame["Soil Type"] == "Sandy")
             + rng.normal(0, noise, n))
    if text:
        words = np.array(["storm", "fire", "flood", "evacuate", "sunny", "lunch", "music", "happy", "weekend"])
        frame["text"] = [" ".join(rng.choice(words[:4] if s > 0.5 else words[4:], 6)) + f" #{i}"
                         for i, s in enumerate(score)]
    if labels is None:
        values = np.exp(score / 2).round(4) * 100
    else:
        cuts = np.quantile(score, np.cumsum(weights or [1 / len(labels)] * len(labels))[:-1])
        values = np.array(labels, dtype=object)[np.digitize(score, cuts)]
    train = frame.iloc[:n_train].assign(**{target: values[:n_train]})
    train.to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].to_csv(folder / "test.csv", index=False)
    sample = pd.DataFrame({"id": frame.id.iloc[n_train:]})
    if form == "prefixed":
        for label in labels:
            sample[f"{target}_{label}"] = 1 / len(labels)
    elif form.startswith("top"):
        sample[target] = " ".join(map(str, labels[:int(form[3:])]))
    else:
        sample[target] = labels[0] if labels is not None else 1.0
    sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def make_several_targets(folder, targets, binary=True, n_train=400, n_test=100, seed=0):
    """A table with several targets a row in Kaggle's layout (steel plates' faults, essays' scores): each
    target a binary label (0/1) or a number, decided by the features and noise; the sample submission has
    a column per target."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = n_train + n_test
    frame = pd.DataFrame({"id": np.arange(n) + 19000, "X_Minimum": rng.integers(0, 1700, n),
                          "Pixels_Areas": rng.exponential(1000, n).round(), "Steel": rng.choice(["A300", "A400"], n)})
    score = frame.X_Minimum / 500 + np.log1p(frame.Pixels_Areas) / 3
    for index, name in enumerate(targets):
        value = np.sin(score + index) + (frame.Steel == "A300") * (index % 2) + rng.normal(0, 0.3, n)
        frame[name] = (value > np.median(value)).astype(int) if binary else (3 + value).round(1)
    frame.iloc[:n_train].to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].drop(columns=list(targets)).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": frame.id[n_train:], **{name: 0.5 for name in targets}}).to_csv(
        folder / "sample_submission.csv", index=False)
    return folder
