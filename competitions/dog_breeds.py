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
from pipelines.competition import Competition
from pipelines.crossval import stratified_kfold
from pipelines.data import load_labelled_images, read_csv
from pipelines.datamodules import ImageDataModule
from pipelines.errors import UserError
from pipelines.estimator import LightningEstimator
from pipelines.metrics import metric
from pipelines.models.efficientnet import PIXEL_MEAN, PIXEL_STD, embed, load_backbone
from pipelines.models.finetune import FineTunedBackbone
from pipelines.models.head import PretrainedHead
from pipelines.params import Param
from submissions.validate import check_probabilities

IMAGENET_DOGS = slice(151, 276)  # every breed of the competition is an ImageNet class in this range
N_SOURCE = IMAGENET_DOGS.stop - IMAGENET_DOGS.start

PARAMS = {
    "mode": Param("frozen", choices=("frozen", "finetune")),  # cached embeddings + head, or last blocks train
    "backbone": Param("lite0", choices=("lite0", "lite1", "lite2", "tiny")),  # tiny: random, for tests
    "weights": "",           # a compatible checkpoint file instead of the packaged weights
    "image_size": Param(224, low=16),
    "lr": Param(1e-2, low=0.0, search=(3e-4, 3e-2), log=True),
    "weight_decay": Param(1e-2, low=0.0, search=(1e-4, 1.0), log=True),
    "correction": False,     # also learn a linear correction from the features (overfits here)
    "label_smoothing": Param(0.0, low=0.0, high=1.0),
    "batch_size": Param(256, low=1),
    "max_epochs": Param(30, low=1, search=(10, 60), step=10),
    # fine-tune mode only
    "unfreeze": Param(5, low=0),   # trained blocks, counted from the last (Lite0 has 16)
    "backbone_lr_scale": Param(0.1, low=0.0),
    "dropout": Param(0.2, low=0.0, high=0.95),
    "warmup": Param(0.1, low=0.0, high=1.0),
    "num_workers": Param(0, low=0),
}

PRESETS = {
    "cpu": {"mode": "frozen"},
    "gpu": {"mode": "finetune", "lr": 1e-3, "label_smoothing": 0.0, "batch_size": 64, "max_epochs": 8,
            "num_workers": 8},
}


def load(data_dir, params=None, train=True):
    params = {**COMPETITION.defaults, **(params or {})}
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


COMPETITION = Competition(
    name="dog_breeds",
    slug="dog-breed-identification",
    files=("labels.csv", "sample_submission.csv"),
    metric=metric("log_loss"),
    load=load,
    features=features,
    model=model,
    splitter=stratified_kfold,
    submission=submission,
    check_submission=check_probabilities,
    classes=lambda data_dir: list(read_csv(data_dir / "sample_submission.csv", ["id"]).columns[1:]),
    params=PARAMS,
    monitor="valid_loss",
    presets=PRESETS,
)
