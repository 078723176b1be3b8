"""CIFAR-10 - Object Recognition in Images: 32x32 PNGs in 10 classes, scored by accuracy.

Images are decoded once from train.zip/test.zip (or .7z, or folders) into a uint8 cache.
Model space: class probabilities; the submission takes the most likely class name.
"""
import numpy as np
import pandas as pd
from sklearn.preprocessing import FunctionTransformer

from features.augment import cifar_train_transform
from pipelines.competition import Competition, Metric
from pipelines.crossval import stratified_kfold
from pipelines.data import load_labelled_images
from pipelines.datamodules import ImageDataModule
from pipelines.estimator import LightningEstimator
from pipelines.metrics import accuracy
from pipelines.models.classifier import ImageClassifier
from submissions.validate import check_labels_in

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

DEFAULTS = {
    "model": "airbench",          # or resnet18 (D2L's CIFAR ResNet-18)
    "widths": (64, 256, 256),     # airbench's; ResNet-18 uses (64, 128, 256, 512)
    "max_epochs": 10,
    "batch_size": 512,
    "lr": 0.2,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "label_smoothing": 0.2,
    "warmup": 0.2,
    "cutout": 8,
    "tta": 2,
    "channels_last": True,
    "num_workers": 0,
}

PRESETS = {
    # 2-core CPU: a narrow airbench net, one stratified holdout split, about 10 minutes
    "cpu": {"widths": (32, 64, 128), "max_epochs": 8, "batch_size": 256, "lr": 0.8, "folds": 1},
    # one GPU: airbench's widths, bf16 (the Trainer's default on GPU), loader workers
    "gpu": {"widths": (64, 256, 256), "max_epochs": 10, "batch_size": 1024, "lr": 0.4, "num_workers": 8,
            "folds": 1},
}


def search_space(trial):
    return {
        "lr": trial.suggest_float("lr", 0.05, 0.8, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 2e-3, log=True),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.3),
        "cutout": trial.suggest_categorical("cutout", [0, 8, 12]),
    }


def load(data_dir, params=None, train=True):
    return load_labelled_images(data_dir, "cifar10", "trainLabels.csv", "label", CLASSES, "sampleSubmission.csv",
                                read_train=train)


def features(data, params):
    return FunctionTransformer()  # images stay uint8; normalisation statistics are fitted by the model per fold


def model(params):
    module_params = {k: params[k] for k in ("model", "lr", "momentum", "weight_decay", "label_smoothing", "warmup",
                                            "tta", "channels_last")}
    module_params["widths"] = params["widths"]
    module_params["num_classes"] = len(CLASSES)
    transform = cifar_train_transform(cutout=params["cutout"])
    return LightningEstimator(ImageClassifier, module_params, batch_size=params["batch_size"],
                              max_epochs=params["max_epochs"], datamodule_class=ImageDataModule,
                              datamodule_params={"transform": transform, "num_workers": params["num_workers"]})


def submission(ids, probabilities, classes=CLASSES):
    return pd.DataFrame({"id": ids, "label": np.asarray(classes)[np.argmax(probabilities, axis=1)]})


COMPETITION = Competition(
    name="cifar10",
    slug="cifar-10",
    files=("trainLabels.csv", "sampleSubmission.csv"),
    sample_submission="sampleSubmission.csv",
    metric=Metric("accuracy", accuracy, greater_is_better=True),
    load=load,
    features=features,
    model=model,
    splitter=stratified_kfold,
    submission=submission,
    check_submission=check_labels_in(CLASSES),
    defaults=DEFAULTS,
    search_space=search_space,
    monitor="valid_acc",
    presets=PRESETS,
)
