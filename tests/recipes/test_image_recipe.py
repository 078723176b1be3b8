"""The image recipe on generated images: the README's examples, every member, and bad input."""
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pipelines.core.errors import UserError
from pipelines.recipes.image import image_competition
from pipelines.run import main, resolve_settings, run
from tests.conftest import REPO
from tests.synthetic import PETS, encoded_image, make_pets

QUICK = {"lite0": [], "tiny": ["tiny.max_epochs=20"],
         "cnn": ["cnn.widths=16,16,16", "cnn.batch_size=16", "cnn.max_epochs=20", "cnn.lr=0.2", "cnn.muon_lr=0",
                 "cnn.bias_lr_scale=1", "cnn.lookahead=false", "cnn.tta=1"],
         "finetune": ["finetune.max_epochs=4", "finetune.batch_size=16", "finetune.resolution=32",
                      "finetune.unfreeze=2", "finetune.lr=0.01"]}


def readme_examples():
    text = (REPO / "README.md").read_text()
    section = text.split("## Add an image competition", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def declared(code):
    namespace = {}
    exec(compile(code, "README example", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["COMPETITION"]


def run_quick(competition, data, member, submission="s.csv", folds=3, seed=0):
    preset, params, folds, baseline = resolve_settings(competition, None, None, [f"models={member}", *QUICK[member]],
                                                       folds)
    settings = {"preset": preset, "baseline": baseline, "params": params, "folds": folds, "seed": seed,
                "refit": False, "logger": "csv", "submission": submission}
    result, path = run(competition, data, settings)
    return result, pd.read_csv(path, dtype={"id": str})


def test_the_readme_examples_are_small_and_run(tmp_path, in_tmp):
    pets, brightness = readme_examples()[:2]  # the digits example runs in test_examples
    assert len(pets.strip().splitlines()) <= 15 and len(brightness.strip().splitlines()) <= 15
    competition = declared(pets)
    assert competition.defaults["models"] == ("lite1", "lite2")  # photos: frozen heads
    data = make_pets(tmp_path / "pets-playground")
    result, submission = run_quick(competition, data, "tiny")
    sample = pd.read_csv(data / "sample_submission.csv", dtype={"id": str})
    assert submission.id.tolist() == sample.id.tolist() and submission.id[0] == "00500"  # leading zeros kept
    assert set(submission.label) <= set(PETS)
    assert result.mean > 0.8  # the colour tells the class; chance is 1/3

    competition = declared(brightness)
    assert competition.defaults["models"] == ("cnn",)  # small images: a network from scratch
    data = make_pets(tmp_path / "brightness-playground", regression=True)
    result, submission = run_quick(competition, data, "cnn")
    train = pd.read_csv(data / "train.csv")
    assert list(submission.columns) == ["id", "score"] and np.isfinite(submission.score).all()
    assert result.mean < 0.5 * train.score.std()  # far better than predicting the mean


@pytest.mark.parametrize("member", ["cnn", "finetune"])
def test_members_learn_any_classes(tmp_path, in_tmp, member):
    competition = image_competition(name="pets", slug="pets", id_column="id", target="label", metric="log_loss",
                                    submission="probabilities", size=32, members=("cnn", "finetune"))
    data = make_pets(tmp_path / "pets", layout="zip")
    sample = pd.DataFrame({"id": pd.read_csv(data / "sample_submission.csv", dtype={"id": str}).id,
                           "fox": 0.2, "cat": 0.5, "dog": 0.3})
    sample.to_csv(data / "sample_submission.csv", index=False)
    result, submission = run_quick(competition, data, member, folds=2)
    assert list(submission.columns) == ["id", "fox", "cat", "dog"]  # the sample's column order
    np.testing.assert_allclose(submission[["fox", "cat", "dog"]].sum(axis=1), 1, atol=1e-6)
    assert result.mean < np.log(3)  # better than the uniform guess


def test_frozen_member_predicts_a_number(tmp_path, in_tmp):
    competition = image_competition(name="bright", slug="bright", id_column="id", target="score", metric="rmse",
                                    size=48, members=("tiny",))
    data = make_pets(tmp_path / "bright", regression=True)
    result, submission = run_quick(competition, data, "tiny")
    # far better than the mean (RMSE = std); a random tiny backbone's 1280 features on 60 images: a margin
    assert result.mean < 0.6 * pd.read_csv(data / "train.csv").score.std()


def image(size, colour=(90, 120, 200)):
    return np.broadcast_to(np.array(colour, np.uint8), (*size, 3)).copy()


@pytest.mark.parametrize("resize, kept", [("crop", "middle"), ("pad", "all"), ("stretch", "all")])
def test_resize_keeps_the_aspect_or_stretches(resize, kept):
    from features.images import decode

    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20], wide[:, 20:40], wide[:, 40:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    data, _ = encoded_image(wide, "png")
    out = decode(data, "wide.png", 30, resize)
    assert out.shape == (30, 30, 3)
    colours = {tuple(int(v) for v in pixel) for pixel in out[15, ::1]}
    if kept == "middle":
        assert out[15].mean(axis=0).argmax() == 1 and (0, 255, 0) in colours  # the centre: green only
        assert (255, 0, 0) not in colours
    else:
        assert (255, 0, 0) in colours and (0, 0, 255) in colours
    if resize == "pad":
        assert (out[0] == 0).all() and (out[15, 5:25] > 0).any()  # black bands above and below


@pytest.mark.parametrize("kind", ["jpeg", "png", "gray", "palette", "rgba"])
def test_any_mode_becomes_rgb(kind):
    from features.images import decode

    data, _ = encoded_image(image((40, 24)), kind)
    out = decode(data, "x", 32, "crop")
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


def test_sixteen_bit_grayscale_becomes_rgb():
    import io

    from features.images import decode

    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16), 65535, np.uint16)).save(buffer, format="PNG")
    out = decode(buffer.getvalue(), "x", 16)
    assert out.shape == (16, 16, 3) and (out == 255).all()


PETS_FILE = ("from pipelines.image import image_competition\n"
             "COMPETITION = image_competition(name='pets', slug='pets', id_column='id', target='label', "
             "metric='log_loss', submission='probabilities', size=32)\n")


def user_competition(tmp_path, monkeypatch, name, source):
    """`source` as a user's file competitions/<name>.py (python -m pipelines.run <name>)."""
    import competitions

    folder = tmp_path / "competitions"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(source)
    monkeypatch.setattr(competitions, "__path__", [str(folder), *competitions.__path__])


@pytest.fixture
def pets_cli(tmp_path, in_tmp, monkeypatch):
    user_competition(tmp_path, monkeypatch, "pets", PETS_FILE)
    data = make_pets(tmp_path / "pets")
    sample = pd.read_csv(data / "sample_submission.csv", dtype={"id": str})
    pd.DataFrame({"id": sample.id, **{pet: 1 / 3 for pet in PETS}}).to_csv(data / "sample_submission.csv", index=False)
    return data


def write_image(path, array, kind="png"):
    data, _ = encoded_image(array, kind)
    path.write_bytes(data)


def labels_without_image(data):
    (data / "train" / "00004.png").unlink(missing_ok=True)
    (data / "train" / "00004.jpg").unlink(missing_ok=True)


def sample_id_without_image(data):
    for path in (data / "test").glob("00502.*"):
        path.unlink()


def corrupt_image(data):
    next((data / "train").glob("00007.*")).write_bytes(b"\x89PNG not really")


def empty_image(data):
    next((data / "test").glob("00503.*")).write_bytes(b"")


def one_class(data):
    labels = pd.read_csv(data / "train.csv", dtype={"id": str})
    labels["label"] = "cat"
    labels.to_csv(data / "train.csv", index=False)


def label_not_a_column(data):
    labels = pd.read_csv(data / "train.csv", dtype={"id": str})
    labels.loc[5, "label"] = "wolf"
    labels.to_csv(data / "train.csv", index=False)


BAD = {
    "a labelled id without an image": (labels_without_image, r"train.csv lists id 00004 but .*train has no image"),
    "a sample id without an image": (sample_id_without_image, r"sample_submission.csv lists id 00502 but .*test has"),
    "a corrupt image": (corrupt_image, r"train/00007.png: cannot decode this image"),
    "an empty image": (empty_image, r"test/00503.\w+: cannot decode this image"),
    "one class": (one_class, r"target 'label' has one class only"),
    "a label that is not a column": (label_not_a_column, r"train.csv row 7: label 'wolf' is not one of the 3 classes"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_clear_error(pets_cli, in_tmp, capsys, case):
    damage, message = BAD[case]
    damage(pets_cli)
    with pytest.raises(SystemExit) as exit_info:
        main(["pets", "--data-dir", str(pets_cli), "--submission", "s.csv", "--set", "models=tiny"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and re.search(message, err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (in_tmp / "s.csv").exists() and not (in_tmp / "runs").exists()


def test_a_decompression_bomb_is_refused(pets_cli, in_tmp, capsys, monkeypatch):
    write_image(next((pets_cli / "train").glob("00001.*")), image((80, 80)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 80 x 80 = 6400 > 2 x 1000: a bomb
    with pytest.raises(SystemExit) as exit_info:
        main(["pets", "--data-dir", str(pets_cli), "--submission", "s.csv", "--set", "models=tiny"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "decompression bomb" in err and "MAX_IMAGE_PIXELS" in err, err
    assert not (in_tmp / "s.csv").exists()


def test_extra_test_images_are_ignored_and_a_class_never_seen_is_allowed(pets_cli, in_tmp, capsys):
    write_image(pets_cli / "test" / "unlisted.png", image((30, 30)))
    sample = pd.read_csv(pets_cli / "sample_submission.csv", dtype={"id": str})
    sample["wolf"] = 0.0
    sample.to_csv(pets_cli / "sample_submission.csv", index=False)
    main(["pets", "--data-dir", str(pets_cli), "--submission", "s.csv", "--set", "models=tiny", "--folds", "2"])
    out = capsys.readouterr().out
    assert "1 images in" in out and "are not in sample_submission.csv: ignored" in out
    assert "1 class(es) of the sample never occur" in out and "wolf" in out
    submission = pd.read_csv(in_tmp / "s.csv", dtype={"id": str})
    assert list(submission.columns) == ["id", *PETS, "wolf"] and len(submission) == len(sample)
    assert (submission.wolf < 0.2).all()
    np.testing.assert_allclose(submission[[*PETS, "wolf"]].sum(axis=1), 1, atol=1e-6)


BRIGHT_FILE = ("from pipelines.image import image_competition\n"
               "COMPETITION = image_competition(name='bright', slug='bright', id_column='id', target='score', "
               "metric='rmse', size=32)\n")


def test_predict_reproduces_a_regression_run_of_every_member(tmp_path, in_tmp, monkeypatch):
    from pipelines import predict

    user_competition(tmp_path, monkeypatch, "bright", BRIGHT_FILE)
    data = make_pets(tmp_path / "bright", n_train=48, n_test=10, regression=True)
    quick = [option for member in ("cnn", "finetune", "tiny") for value in QUICK[member] for option in ("--set", value)]
    main(["bright", "--data-dir", str(data), "--submission", "s.csv", "--folds", "2",
          "--set", "models=cnn,finetune,tiny", *quick, "--set", "finetune.max_epochs=1"])
    [folder] = (in_tmp / "runs" / "bright").iterdir()
    predict.main([str(folder), "--submission", "p.csv"])
    assert (in_tmp / "p.csv").read_bytes() == (in_tmp / "s.csv").read_bytes()
    assert np.isfinite(pd.read_csv(in_tmp / "s.csv").score).all()


def test_labels_are_text_and_an_id_may_name_its_extension(tmp_path, in_tmp):
    """Classes 01/02/03 stay 01/02/03 in the submission; labels.csv may list 00004.png for 00004."""
    data = make_pets(tmp_path / "codes")
    labels = pd.read_csv(data / "train.csv", dtype={"id": str})
    labels["label"] = labels.label.map({"cat": "01", "dog": "02", "fox": "03"})
    labels.loc[4, "id"] = next((data / "train").glob("00004.*")).name
    labels.to_csv(data / "train.csv", index=False)
    competition = image_competition(name="codes", slug="codes", id_column="id", target="label", metric="accuracy",
                                    size=32, members=("tiny",))
    result, submission = run_quick(competition, data, "tiny", folds=2)
    assert set(pd.read_csv(in_tmp / "s.csv", dtype=str).label) <= {"01", "02", "03"}


def test_two_files_for_one_id_are_refused(tmp_path, in_tmp):
    data = make_pets(tmp_path / "twice")
    write_image(data / "train" / "00003.bmp", image((20, 20)), "png")
    competition = image_competition(name="twice", slug="twice", id_column="id", target="label", metric="accuracy")
    with pytest.raises(UserError, match=r"has 2 files for id 00003 .*keep one image per id"):
        competition.load(data)


def test_declared_classes_and_imagenet_ranges_are_checked(tmp_path, in_tmp):
    with pytest.raises(ValueError, match="imagenet_classes"):
        image_competition(name="x", slug="x", id_column="id", target="label", metric="accuracy",
                          imagenet_classes=(10, 5))
    with pytest.raises(ValueError, match="resize='fit'"):
        image_competition(name="x", slug="x", id_column="id", target="label", metric="accuracy", resize="fit")
    data = make_pets(tmp_path / "few")
    competition = image_competition(name="few", slug="few", id_column="id", target="label", metric="accuracy",
                                    imagenet_classes=(151, 153))
    with pytest.raises(UserError, match=r"3 classes, but imagenet_classes=\(151, 153\) holds 2"):
        competition.load(data, {"models": ("lite0",)})
    competition = image_competition(name="few", slug="few", id_column="id", target="label", metric="accuracy",
                                    classes=("cat", "dog"))
    with pytest.raises(UserError, match=r"label 'fox' is not one of the 2 classes .* of the declared classes"):
        competition.load(data)
