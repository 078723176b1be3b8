"""Members for image competitions, for any number of classes or a number per image.

- frozen(backbone): a pretrained EfficientNet-Lite embeds every image once (a cached feature step,
  features/embeddings.py) and a head is trained per fold on the embeddings: a linear + hidden-layer
  head on the standardised features (pipelines/training/models/mlp.py) for the competition's own classes or
  a number; when the classes are ImageNet classes (`imagenet_classes`, a range of ImageNet's),
  the head instead starts from ImageNet's classifier rows and is calibrated (models/head.py).
- finetune: a pretrained backbone's last blocks and a new head trained on the images, augmented
  on tensors (or per image with albumentations).
- cnn: the airbench network (or D2L's ResNet-18) trained from scratch: small images, 8 to 64 px.

Each is a function (classification, imagenet_classes) -> Member declaring its parameters once.
Model code is imported when a model is built, so declaring a competition imports no torch.
"""
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from features.embeddings import BackboneEmbedding
from pipelines.engine.competition import Member
from pipelines.engine.params import Param
from pipelines.recipes.members import THREADS
from pipelines.training.estimator import LightningEstimator

BACKBONES = ("lite0", "lite1", "lite2", "tiny")  # tiny: a small random network, for tests
AUGMENT = ("tensor", "albumentations")


def frozen(backbone):
    def member(classification, imagenet_classes=None):
        source = tuple(imagenet_classes) if classification and imagenet_classes else None

        def features(data, params):
            embedding = BackboneEmbedding(backbone, views=params["views"], source_classes=source)
            return embedding if source else make_pipeline(embedding, StandardScaler())

        return Member(features, imagenet_head(source) if source else embedding_head(classification),
                      imagenet_head_params() if source else for_task(embedding_head_params(), classification))

    return member


def for_task(params, classification):
    """A member's parameters without those that only classes use (label smoothing) for a number."""
    return params if classification else {key: value for key, value in params.items() if key != "label_smoothing"}


def embedding_head(classification):
    def model(p):
        from pipelines.training.models.mlp import MLPClassifier, MLPRegressor

        module_params = {k: p[k] for k in ("hidden", "dropout", "lr", "weight_decay")}
        if classification:
            module_params.update(n_classes=p["n_classes"], label_smoothing=p["label_smoothing"])
        else:
            module_params["scale_target"] = True
        return LightningEstimator(MLPClassifier if classification else MLPRegressor, module_params,
                                  batch_size=p["batch_size"], max_epochs=p["max_epochs"], threads=p["threads"])

    return model


def embedding_head_params():
    return {
        "hidden": Param(256, low=1, search=(64, 1024), log=True),
        "dropout": Param(0.5, low=0.0, high=0.95, search=(0.0, 0.8)),
        "lr": Param(1e-3, low=1e-6, high=1.0, search=(1e-4, 1e-2), log=True),
        "weight_decay": Param(0.05, low=0.0, search=(1e-3, 1.0), log=True),
        "label_smoothing": Param(0.0, low=0.0, high=0.5),
        "batch_size": Param(128, low=1),
        # 10: dog breeds' Lite2 head (seed 0) scored 0.463 against 0.495 at 30 epochs (README)
        "max_epochs": Param(10, low=1, search=(5, 40), step=5),
        "threads": THREADS,
    }


def imagenet_head(source):
    def model(p):
        from pipelines.training.models.head import PretrainedHead

        module_params = {k: p[k] for k in ("lr", "weight_decay", "label_smoothing", "correction")}
        module_params.update(n_source=source[1] - source[0], n_classes=p["n_classes"])
        return LightningEstimator(PretrainedHead, module_params, batch_size=p["batch_size"],
                                  max_epochs=p["max_epochs"], threads=p["threads"])

    return model


def imagenet_head_params():
    return {
        "lr": Param(1e-2, low=0.0, search=(3e-4, 3e-2), log=True),
        "weight_decay": Param(1e-2, low=0.0, search=(1e-4, 1.0), log=True),
        "correction": False,  # also learn a linear correction from the features (overfits on dog breeds)
        "label_smoothing": Param(0.0, low=0.0, high=1.0),
        "batch_size": Param(256, low=1),
        "max_epochs": Param(30, low=1, search=(10, 60), step=10),
        "threads": THREADS,
    }


def images_as_they_are(data, params):
    return FunctionTransformer()  # images stay uint8; the model augments and normalises them


def image_data(p, tensor_options, albumentations_transform):
    """(datamodule class, its options): batches augmented on the model's device, or per image by
    albumentations_transform() in `num_workers` loader workers."""
    from pipelines.training.datamodules import ImageDataModule, TensorImageDataModule

    if p["augment"] == "tensor":
        return TensorImageDataModule, tensor_options
    return ImageDataModule, {"transform": albumentations_transform(), "num_workers": p["num_workers"]}


def finetune(classification, imagenet_classes=None):
    def model(p):
        from pipelines.training.augment import finetune_train_transform
        from pipelines.training.models.finetune import FineTunedBackbone, FineTunedRegressor

        module_params = {k: p[k] for k in ("backbone", "weights", "unfreeze", "lr", "backbone_lr_scale",
                                           "weight_decay", "dropout", "warmup", "resolution", "mirror")}
        if classification:
            source = tuple(imagenet_classes) if imagenet_classes else None
            module_params.update(n_classes=p["n_classes"], source_classes=source, label_smoothing=p["label_smoothing"])
        data, options = image_data(p, {"mirrored": p["mirror"], "shift": p["shift"]},
                                   lambda: finetune_train_transform(p["image_size"], mirror=p["mirror"]))
        options["eval_batch_size"] = p["eval_batch_size"]
        return LightningEstimator(FineTunedBackbone if classification else FineTunedRegressor, module_params,
                                  batch_size=p["batch_size"], max_epochs=p["max_epochs"],
                                  datamodule_class=data, datamodule_params=options, threads=p["threads"])

    return Member(images_as_they_are, model, for_task({
        "backbone": Param("lite0", choices=BACKBONES),
        "weights": "",                  # a compatible checkpoint instead of the packaged weights
        "resolution": Param(0, low=0),  # images resized to this on the device; 0: the backbone's own (224-260)
        "unfreeze": Param(5, low=0),    # trained blocks, counted from the last (Lite0 has 16)
        "lr": Param(1e-3, low=0.0, search=(1e-4, 1e-2), log=True),
        "backbone_lr_scale": Param(0.1, low=0.0),
        "weight_decay": Param(1e-2, low=0.0),
        "label_smoothing": Param(0.0, low=0.0, high=1.0),
        "dropout": Param(0.2, low=0.0, high=0.95),
        "warmup": Param(0.1, low=0.0, high=1.0),
        "augment": Param("tensor", choices=AUGMENT),  # mirrors and shifts on the device, or random crops per image
        "mirror": True,                 # mirrored in training and at test time (the competition's mirror=)
        "shift": Param(8, low=0),
        "batch_size": Param(64, low=1),
        "eval_batch_size": Param(128, low=1),  # validation and test images at a time (photos: activations are large)
        "max_epochs": Param(8, low=1),
        "num_workers": Param(0, low=0),  # loader workers for augment=albumentations
        "threads": THREADS,
    }, classification))


LARGE = 10_000  # training images from which the cnn trains as on CIFAR-10 (batch 256, 8 epochs, Lookahead)
STEPS = 700      # about as many steps for fewer images: 8 epochs of a thousand are 40 steps, far too few


def cnn_settings(p):
    """The cnn's batch, epochs, BatchNorm bias rate and Lookahead by the fold's images, where the member
    leaves them to the data (0, "auto"). From 10,000 images, airbench's on CIFAR-10: batches of 256, 8
    epochs, biases at 64 times the learning rate, Lookahead. Fewer: batches of 64 for about 700 steps
    (8 to 60 epochs), biases at the learning rate and no Lookahead: with them, folds of 1,000 digits
    trained well and then predicted one class in eval mode (CV 0.10; benchmarks/RESULTS.md)."""
    def sized(rows):
        small = rows < LARGE
        batch = p["batch_size"] or (64 if small else 256)
        epochs = p["max_epochs"] or (min(60, max(8, -(-STEPS * batch // rows))) if small else 8)
        lookahead = {"true": True, "false": False}.get(p["lookahead"], not small)
        bias_lr_scale = p["bias_lr_scale"] or (1.0 if small else 64.0)
        return {"batch_size": batch, "max_epochs": epochs,
                "module_params": {"lookahead": lookahead, "bias_lr_scale": bias_lr_scale}}

    return sized


def cnn(classification, imagenet_classes=None):
    def model(p):
        from pipelines.training.augment import cifar_train_transform
        from pipelines.training.models.classifier import ImageClassifier, ImageRegressor

        module_params = {k: p[k] for k in ("model", "widths", "lr", "momentum", "weight_decay",
                                           "warmup", "whiten_bias_epochs", "muon_lr", "muon_momentum",
                                           "identity_init", "tta", "channels_last", "compile", "min_size", "mirror")}
        if classification:
            module_params.update(num_classes=p["n_classes"], label_smoothing=p["label_smoothing"])
        data, options = image_data(p, {"mirrored": p["mirror"], "shift": p["shift"], "cutout": p["cutout"]},
                                   lambda: cifar_train_transform(size=p["image_size"], cutout=p["cutout"],
                                                                 mirror=p["mirror"]))
        if p["compile"]:  # one shape for the compiled network: whole training batches, the last test batch padded
            options["static_batches"] = True
        return LightningEstimator(ImageClassifier if classification else ImageRegressor, module_params,
                                  datamodule_class=data, datamodule_params=options, sized=cnn_settings(p),
                                  threads=p["threads"])

    # the defaults suit a 2-core CPU; the image recipe's gpu preset sets airbench94's
    return Member(images_as_they_are, model, for_task({
        "model": Param("airbench", choices=("airbench", "resnet18")),   # resnet18: D2L's CIFAR ResNet-18
        "widths": Param((32, 64, 128), low=1),  # airbench94's are (64, 256, 256); ResNet-18 (64, 128, 256, 512)
        "max_epochs": Param(0, low=0),                  # 0: by the fold's images (cnn_settings)
        "batch_size": Param(0, low=0),                  # 0: by the fold's images (cnn_settings)
        "min_size": Param(16, low=0),                   # smaller images are upsampled to this on the device
        "lr": Param(0.8, low=0.0, search=(0.1, 3.0), log=True),
        "momentum": Param(0.85, low=0.0, high=1.0),
        "weight_decay": Param(1.3e-3, low=0.0, search=(1e-4, 5e-3), log=True),
        "bias_lr_scale": Param(0.0, low=0.0),           # BatchNorm biases learn this much faster; 0: by the images
        "label_smoothing": Param(0.2, low=0.0, high=1.0, search=(0.0, 0.3)),
        "warmup": Param(0.2, low=0.0, high=1.0),
        "whiten_bias_epochs": Param(3, low=0),          # then the whitening layer's bias is frozen; 0: never
        "lookahead": Param("auto", choices=("auto", "true", "false")),  # auto: from 10,000 images
        "muon_lr": Param(0.08, low=0.0),                # > 0: convolution filters take Muon steps at this rate
        "muon_momentum": Param(0.6, low=0.0, high=1.0),
        "identity_init": True,                          # 3x3 convolutions start with identity filters
        "augment": Param("tensor", choices=AUGMENT),    # batched on the device, or per image
        "mirror": True,                                 # mirrored in training and test-time views (mirror=)
        "shift": Param(2, low=0, high=8),               # translation in pixels, reflected borders (tensor)
        "cutout": Param(0, low=0, search=(0, 8, 12)),
        "tta": Param(2, low=0, high=2),
        "channels_last": True,
        "compile": False,                               # torch.compile the network, once per fold (the gpu preset)
        "num_workers": Param(0, low=0),                 # loader workers for augment=albumentations
        "threads": THREADS,                             # torch's threads: the run's share of the cores, in any process
    }, classification))


LIBRARY = {**{backbone: frozen(backbone) for backbone in BACKBONES}, "finetune": finetune, "cnn": cnn}

# airbench94's recipe for one GPU (the cnn defaults are for a CPU); fine-tuning for photos
GPU_SMALL = {"cnn.widths": (64, 256, 256), "cnn.max_epochs": 10, "cnn.batch_size": 1024, "cnn.lr": 1.5,
             "cnn.muon_lr": 0.0, "cnn.compile": True}
GPU_PHOTOS = {"models": ("finetune",), "finetune.num_workers": 8}
