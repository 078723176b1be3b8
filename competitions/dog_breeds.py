"""Dog Breed Identification: 120 breeds from JPEGs, scored by multi-class log loss.

Every breed is an ImageNet class (151-275), so ImageNet-pretrained EfficientNet-Lite backbones
already tell the breeds apart. Frozen members (the cpu preset): a backbone embeds every image
once (a cached feature step, features/embeddings.py) and a small head, started from the
ImageNet classifier rows of the breeds, is trained per fold in seconds; one member per backbone
(lite0, lite1, lite2), blended. Fine-tuning (the gpu preset): the backbone's last blocks train
on augmented images at a lower learning rate than the classifier, which starts from the same rows.
"""
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from features.embeddings import VIEWS, BackboneEmbedding, PooledFeatures
from pipelines.competition import Competition, Member
from pipelines.data import load_labelled_images, read_csv
from pipelines.errors import UserError
from pipelines.estimator import LightningEstimator, SklearnEstimator
from pipelines.members import THREADS
from pipelines.metrics import metric
from pipelines.params import Param
from pipelines.splits import stratified_kfold
from submissions.validate import check_probabilities

IMAGENET_DOGS = (151, 276)  # every breed of the competition is an ImageNet class in this range
N_SOURCE = IMAGENET_DOGS[1] - IMAGENET_DOGS[0]
BACKBONES = ("lite0", "lite1", "lite2", "tiny")  # tiny: a small random network, for tests

PARAMS = {
    "models": ("lite1", "lite2"),
    "image_size": Param(260, low=16),          # decode size; each backbone resizes to its own resolution
    "views": Param("none", choices=VIEWS),      # views averaged into an embedding (flip: twice the time)
}


def embeddings(backbone):
    """The feature step of a frozen member: its backbone's cached embeddings of the images."""
    return lambda data, params: BackboneEmbedding(backbone, views=params["views"], source_classes=IMAGENET_DOGS)


def frozen_head(backbone):
    """The ImageNet breed rows of `backbone`, calibrated per fold (pipelines/models/head.py)."""
    def model(p):
        from pipelines.models.head import PretrainedHead

        module_params = {k: p[k] for k in ("lr", "weight_decay", "label_smoothing", "correction")}
        return LightningEstimator(PretrainedHead, {**module_params, "n_source": N_SOURCE, "n_classes": 120},
                                  batch_size=p["batch_size"], max_epochs=p["max_epochs"], threads=p["threads"])

    return Member(embeddings(backbone), model, {
        "lr": Param(1e-2, low=0.0, search=(3e-4, 3e-2), log=True),
        "weight_decay": Param(1e-2, low=0.0, search=(1e-4, 1.0), log=True),
        "correction": False,  # also learn a linear correction from the features (overfits here)
        "label_smoothing": Param(0.0, low=0.0, high=1.0),
        "batch_size": Param(256, low=1),
        "max_epochs": Param(30, low=1, search=(10, 60), step=10),
        "threads": THREADS,
    })


def probe(backbone):
    """A logistic regression on the standardised pooled features (no ImageNet rows)."""
    recipe = embeddings(backbone)

    def features(data, params):
        return make_pipeline(recipe(data, params), PooledFeatures(N_SOURCE), StandardScaler())

    return Member(features, lambda p: SklearnEstimator(
        LogisticRegression(C=p["C"], max_iter=p["max_iter"], random_state=p["seed"]), p["n_classes"], p["threads"]), {
        "C": Param(0.01, low=1e-8, search=(1e-3, 1.0), log=True),
        "max_iter": Param(300, low=1),
        "threads": THREADS,
    })


def finetuned(data, params):
    return FunctionTransformer()  # images stay uint8; the model augments and normalises them


def finetuned_model(p):
    from features.augment import finetune_train_transform
    from pipelines.datamodules import ImageDataModule
    from pipelines.models.finetune import FineTunedBackbone

    module_params = {k: p[k] for k in ("backbone", "weights", "unfreeze", "lr", "backbone_lr_scale",
                                       "weight_decay", "label_smoothing", "dropout", "warmup")}
    module_params.update(n_classes=120, source_classes=IMAGENET_DOGS)
    return LightningEstimator(FineTunedBackbone, module_params, batch_size=p["batch_size"],
                              max_epochs=p["max_epochs"], datamodule_class=ImageDataModule,
                              datamodule_params={"transform": finetune_train_transform(p["image_size"]),
                                                 "num_workers": p["num_workers"], "eval_batch_size": 128})


MEMBERS = {
    **{backbone: frozen_head(backbone) for backbone in BACKBONES},
    "probe": probe("lite0"),
    "finetune": Member(finetuned, finetuned_model, {
        "backbone": Param("lite0", choices=BACKBONES),
        "weights": "",                  # a compatible checkpoint instead of the packaged weights
        "unfreeze": Param(5, low=0),    # trained blocks, counted from the last (Lite0 has 16)
        "lr": Param(1e-3, low=0.0, search=(1e-4, 1e-2), log=True),
        "backbone_lr_scale": Param(0.1, low=0.0),
        "weight_decay": Param(1e-2, low=0.0),
        "label_smoothing": Param(0.0, low=0.0, high=1.0),
        "dropout": Param(0.2, low=0.0, high=0.95),
        "warmup": Param(0.1, low=0.0, high=1.0),
        "batch_size": Param(64, low=1),
        "max_epochs": Param(8, low=1),
        "num_workers": Param(0, low=0),
    }),
}

PRESETS = {
    "cpu": {},
    "gpu": {"models": ("finetune",), "image_size": 224, "finetune.num_workers": 8},
}


def load(data_dir, params=None, train=True):
    params = {**COMPETITION.defaults, **(params or {})}
    sample = read_csv(data_dir / "sample_submission.csv", ["id"])
    breeds = list(sample.columns[1:])
    if len(breeds) != 120:
        raise UserError(f"{data_dir / 'sample_submission.csv'} has {len(breeds)} breed columns; Kaggle's has 120")
    if "finetune" in params["models"]:  # a weights file that does not fit fails here, before any work
        from pipelines.models.efficientnet import load_backbone

        load_backbone(params["finetune.backbone"], params["finetune.weights"] or None)
    return load_labelled_images(data_dir, "dog_breeds", "labels.csv", "breed", breeds, "sample_submission.csv",
                                size=params["image_size"], read_train=train)


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
    params=PARAMS,
    members=MEMBERS,
    splitter=stratified_kfold,
    submission=submission,
    check_submission=check_probabilities,
    classes=lambda data_dir: list(read_csv(data_dir / "sample_submission.csv", ["id"]).columns[1:]),
    monitor="valid_loss",
    presets=PRESETS,
)
