"""CIFAR-10 - Object Recognition in Images: 32x32 PNGs in 10 classes, scored by accuracy.

Images are decoded once from train.zip/test.zip (or .7z, or folders) into a uint8 cache.
Model space: class probabilities; the submission takes the most likely class name.
"""
import numpy as np
import pandas as pd
from sklearn.preprocessing import FunctionTransformer

from features.augment import cifar_train_transform
from pipelines.competition import Competition
from pipelines.crossval import stratified_kfold
from pipelines.data import load_labelled_images
from pipelines.datamodules import ImageDataModule
from pipelines.estimator import LightningEstimator
from pipelines.metrics import metric
from pipelines.models.classifier import ImageClassifier
from pipelines.params import Param
from submissions.validate import check_labels_in

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

PARAMS = {
    "model": Param("airbench", choices=("airbench", "resnet18")),   # resnet18: D2L's CIFAR ResNet-18
    "widths": Param((64, 256, 256), low=1),  # airbench's; ResNet-18 uses (64, 128, 256, 512)
    "max_epochs": Param(10, low=1),
    "batch_size": Param(512, low=1),
    "lr": Param(0.2, low=0.0, search=(0.05, 0.8), log=True),
    "momentum": Param(0.9, low=0.0, high=1.0),
    "weight_decay": Param(5e-4, low=0.0, search=(1e-4, 2e-3), log=True),
    "label_smoothing": Param(0.2, low=0.0, high=1.0, search=(0.0, 0.3)),
    "warmup": Param(0.2, low=0.0, high=1.0),
    "cutout": Param(8, low=0, search=(0, 8, 12)),
    "tta": Param(2, low=0, high=2),
    "channels_last": True,
    "num_workers": Param(0, low=0),
}

PRESETS = {
    # 2-core CPU: a narrow airbench net, one stratified holdout split, about 10 minutes
    "cpu": {"widths": (32, 64, 128), "max_epochs": 8, "batch_size": 256, "lr": 0.8, "folds": 1},
    # one GPU: airbench's widths, bf16 (the Trainer's default on GPU), loader workers
    "gpu": {"widths": (64, 256, 256), "max_epochs": 10, "batch_size": 1024, "lr": 0.4, "num_workers": 8,
            "folds": 1},
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
    metric=metric("accuracy"),
    load=load,
    features=features,
    model=model,
    splitter=stratified_kfold,
    submission=submission,
    check_submission=check_labels_in(CLASSES),
    classes=lambda data_dir: list(CLASSES),
    params=PARAMS,
    monitor="valid_acc",
    presets=PRESETS,
)
