"""CIFAR-10 - Object Recognition in Images: 32x32 PNGs in 10 classes, scored by accuracy.

Images are decoded once from train.zip/test.zip (or .7z, or folders) into a uint8 cache.
Model space: class probabilities; the submission takes the most likely class name.
"""
import numpy as np
import pandas as pd
from sklearn.preprocessing import FunctionTransformer

from pipelines.competition import Competition
from pipelines.data import load_labelled_images
from pipelines.estimator import LightningEstimator
from pipelines.metrics import metric
from pipelines.params import Param
from pipelines.splits import stratified_kfold
from submissions.validate import check_labels_in

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

PARAMS = {
    "model": Param("airbench", choices=("airbench", "resnet18")),   # resnet18: D2L's CIFAR ResNet-18
    "widths": Param((64, 256, 256), low=1),  # airbench's; ResNet-18 uses (64, 128, 256, 512)
    "max_epochs": Param(10, low=1),
    "batch_size": Param(1024, low=1),
    "lr": Param(1.5, low=0.0, search=(0.1, 3.0), log=True),
    "momentum": Param(0.85, low=0.0, high=1.0),
    "weight_decay": Param(1.3e-3, low=0.0, search=(1e-4, 5e-3), log=True),
    "bias_lr_scale": Param(64.0, low=0.0),          # BatchNorm biases learn this much faster (airbench)
    "label_smoothing": Param(0.2, low=0.0, high=1.0, search=(0.0, 0.3)),
    "warmup": Param(0.2, low=0.0, high=1.0),
    "whiten_bias_epochs": Param(3, low=0),          # then the whitening layer's bias is frozen; 0: never
    "lookahead": True,
    "muon_lr": Param(0.0, low=0.0),                 # > 0: convolution filters take Muon steps at this rate
    "muon_momentum": Param(0.6, low=0.0, high=1.0),
    "identity_init": True,                          # 3x3 convolutions start with identity filters
    "augment": Param("tensor", choices=("tensor", "albumentations")),  # batched on the device, or per image
    "mirror": True,                                 # alternating mirrors (tensor) / random flips
    "shift": Param(2, low=0, high=8),               # translation in pixels, reflected borders (tensor)
    "cutout": Param(0, low=0, search=(0, 8, 12)),
    "tta": Param(2, low=0, high=2),
    "channels_last": True,
    "compile": False,                               # torch.compile the network (on a GPU only)
    "num_workers": Param(0, low=0),                 # loader workers for augment=albumentations
}

PRESETS = {
    # 2-core CPU: a narrow airbench net, one stratified holdout split
    "cpu": {"widths": (32, 64, 128), "max_epochs": 8, "batch_size": 256, "lr": 0.8, "muon_lr": 0.08, "folds": 1},
    # one GPU: airbench94's widths and recipe, bf16 (the Trainer's default on GPU), torch.compile
    "gpu": {"widths": (64, 256, 256), "max_epochs": 10, "batch_size": 1024, "compile": True, "folds": 1},
    # the cpu preset before batched augmentation and airbench94's extras, for comparison
    "cpu-albumentations": {"widths": (32, 64, 128), "max_epochs": 8, "batch_size": 256, "lr": 0.8, "momentum": 0.9,
                           "weight_decay": 5e-4, "bias_lr_scale": 1.0, "whiten_bias_epochs": 0, "lookahead": False,
                           "identity_init": False, "augment": "albumentations", "cutout": 8, "folds": 1},
}


def load(data_dir, params=None, train=True):
    return load_labelled_images(data_dir, "cifar10", "trainLabels.csv", "label", CLASSES, "sampleSubmission.csv",
                                read_train=train)


def features(data, params):
    return FunctionTransformer()  # images stay uint8; normalisation statistics are fitted by the model per fold


def model(params):
    from features.augment import cifar_train_transform
    from pipelines.datamodules import ImageDataModule, TensorImageDataModule
    from pipelines.models.classifier import ImageClassifier

    module_params = {k: params[k] for k in ("model", "widths", "lr", "momentum", "weight_decay", "bias_lr_scale",
                                            "label_smoothing", "warmup", "whiten_bias_epochs", "lookahead",
                                            "muon_lr", "muon_momentum", "identity_init", "tta", "channels_last",
                                            "compile")}
    module_params["num_classes"] = len(CLASSES)
    if params["augment"] == "tensor":
        data = (TensorImageDataModule, {"mirrored": params["mirror"], "shift": params["shift"],
                                        "cutout": params["cutout"]})
    else:
        data = (ImageDataModule, {"transform": cifar_train_transform(cutout=params["cutout"]),
                                  "num_workers": params["num_workers"]})
    return LightningEstimator(ImageClassifier, module_params, batch_size=params["batch_size"],
                              max_epochs=params["max_epochs"], datamodule_class=data[0], datamodule_params=data[1])


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
