"""CIFAR-10 - Object Recognition in Images: 32x32 PNGs in 10 classes, scored by accuracy.

The image recipe's cnn member: the airbench network trained from scratch (pipelines/recipes/image_members.py
holds its parameters; its defaults are the cpu preset's, on a 2-core CPU, and the recipe's gpu
preset sets airbench94's). One stratified 80/20 holdout by default, for time.
"""
from pipelines.image import image_competition

COMPETITION = image_competition(
    name="cifar10",
    slug="cifar-10",
    id_column="id",
    target="label",
    metric="accuracy",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    labels="trainLabels.csv",
    sample_submission="sampleSubmission.csv",
    size=32,
    presets={
        "cpu": {"folds": 1},
        "gpu": {"folds": 1},
        # the cpu preset before batched augmentation and airbench94's extras, for comparison
        "cpu-albumentations": {"folds": 1, "cnn.momentum": 0.9, "cnn.weight_decay": 5e-4, "cnn.bias_lr_scale": 1.0,
                               "cnn.whiten_bias_epochs": 0, "cnn.lookahead": "false", "cnn.identity_init": False,
                               "cnn.muon_lr": 0.0, "cnn.augment": "albumentations", "cnn.cutout": 8},
    },
)
