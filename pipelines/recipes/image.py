"""The default recipe for an image competition: a CSV of image ids and labels, images named by id.

    COMPETITION = image_competition(name="...", slug="...", id_column="id", target="label",
                                    metric="accuracy")

gives the loader (ids read as text, each id's image found in a folder or archive whatever its
extension, any size and mode fitted to `size` x `size` RGB and decoded once into a cache), the
classes (from the labels, or from the sample's columns for one probability column a class), the
members (pipelines/recipes/image_members.py: `cnn` from scratch for small images, frozen pretrained
backbones with a head per fold for photos, `finetune` on a GPU), the stratified splitter and the
submission in the sample's form: a label, a probability, a column a class, or a number per image.
"""
from pathlib import Path

import numpy as np

from features.embeddings import VIEWS
from features.images import RESIZE
from pipelines.core.data import Dataset, class_order, model_space_target, read_csv, require_unique
from pipelines.core.errors import UserError
from pipelines.engine.competition import Competition
from pipelines.engine.metrics import metric as metric_named
from pipelines.engine.metrics import with_target_transform
from pipelines.engine.params import Param
from pipelines.engine.splits import default_splitter
from pipelines.recipes.image_members import GPU_PHOTOS, GPU_SMALL, LIBRARY
from pipelines.recipes.tabular import (
    check_classes,
    check_form,
    declared_members,
    tabular_check,
    tabular_submission,
    with_defaults,
)

SMALL = 64  # images this size or smaller train a network from scratch by default (cnn)
# Measured defaults (README, "Add an image competition"): on a CPU, photos get frozen heads on two
# backbones, small images the airbench network; on a GPU photos are fine-tuned.
PHOTO_MEMBERS = ("lite1", "lite2")
SMALL_MEMBERS = ("cnn",)


def declared_classes(classes, labels, target, where, of="the sample's columns"):
    """Classes as declared (or the sample's probability columns); each label must be one of them
    (compared as text)."""
    classes = [str(name) for name in classes]
    index = {name: k for k, name in enumerate(classes)}
    text = labels[target].astype(str)
    known = text.isin(classes).to_numpy()
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise UserError(f"{where} row {row + 2}: label {labels[target].iloc[row]!r} is not one of the {len(classes)} "
                        f"classes ({', '.join(classes[:4])}, ...) of {of}; fix or remove that row")
    y = text.map(index).to_numpy(dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise UserError(f"{where}: target {target!r} has one class only; a classifier needs two or more")
    return y, classes


def unseen_classes(classes, y, where, log):
    unseen = [name for k, name in enumerate(classes) if not (y == k).any()]
    if unseen:
        log(f"{len(unseen)} class(es) of the sample never occur in {where} ({', '.join(map(str, unseen[:4]))}): "
            "each gets the probability the heads learn for a class without examples, near 0")


def image_loader(id_column, target, metric, labels, images, test_images, form, positive, sample_submission,
                 resize, cache_name, defaults, classes=None, imagenet_classes=None):
    def load(data_dir, params=None, train=True, log=print):
        from features.images import ImageSource, cached_images

        data_dir, params = Path(data_dir), {**defaults(), **(params or {})}
        size = params.get("image_size")
        sample_path = data_dir / sample_submission
        sample = read_csv(sample_path, [id_column], text=[id_column])
        require_unique(sample, id_column, sample_path)
        test_source = ImageSource(data_dir, test_images)
        test_ids = sample[id_column].to_list()
        test_source.require(test_ids, sample_path)
        ignored = test_source.unlisted(test_ids)
        if ignored:
            log(f"{ignored} images in {test_source.where} are not in {sample_submission}: ignored")
        dataset = Dataset(X=None, y=None, X_test=None, test_ids=sample[id_column].to_numpy(), sample=sample,
                          train_ids=None, inputs=[sample_path, test_source.where])
        if train:
            labels_path = data_dir / labels
            # labels are text, as the CSV holds them: a class 01 stays 01 in the submission
            frame = read_csv(labels_path, [id_column, target], text=[id_column, target] if metric.classification
                             else [id_column])
            require_unique(frame, id_column, labels_path)
            if metric.classification and (classes is not None or form == "probabilities"):
                declared = classes if classes is not None else sample.columns[1:]
                of = "the declared classes" if classes is not None else "the sample's columns"
                dataset.y, found = declared_classes(declared, frame, target, labels_path, of)
                unseen_classes(found, dataset.y, labels_path, log)
            else:
                dataset.y, found = model_space_target(frame[target], metric, labels_path)
            if metric.classification:
                check_classes(found, form, positive, sample, target, labels_path, metric)
                if imagenet_classes and len(found) > imagenet_classes[1] - imagenet_classes[0]:
                    raise UserError(f"{labels_path}: {len(found)} classes, but imagenet_classes={imagenet_classes} "
                                    f"holds {imagenet_classes[1] - imagenet_classes[0]}; give the range of ImageNet "
                                    "classes that contains every class, or leave imagenet_classes out")
                dataset.info["classes"] = found
            train_source = ImageSource(data_dir, images)
            train_ids = frame[id_column].to_list()
            train_source.require(train_ids, labels_path)
            if "finetune" in params.get("models", ()):  # a weights file that does not fit fails before any work
                from pipelines.training.models.efficientnet import load_backbone

                load_backbone(params["finetune.backbone"], params["finetune.weights"] or None)
            dataset.X = cached_images(train_source, train_ids, cache_name, size, resize=resize, log=log)
            dataset.train_ids = frame[id_column].to_numpy()
            dataset.inputs[:0] = [labels_path, train_source.where]
        dataset.X_test = cached_images(test_source, test_ids, cache_name, size, resize=resize, log=log)
        return dataset

    return load


def image_classes(id_column, target, labels, form, sample_submission, declared=None):
    def classes(data_dir):
        data_dir = Path(data_dir)
        if declared is not None:
            return [str(name) for name in declared]
        if form == "probabilities":
            return [str(c) for c in read_csv(data_dir / sample_submission, [id_column]).columns[1:]]
        return class_order(read_csv(data_dir / labels, [target], text=[target])[target].dropna())

    return classes


def image_competition(name, slug, id_column, target, metric, labels="train.csv", images="train",
                      test_images="test", submission="label", size=224, resize="crop", members=None,
                      classes=None, imagenet_classes=None, params=None, presets=None, positive=None, target_transform=None,
                      sample_submission="sample_submission.csv", mirror=True, description=""):
    """A Competition for Kaggle's image layout: `labels` (a CSV of id and target), the images of
    `images` and `test_images` (folders or .zip/.7z archives of files named by id), and the sample.

    metric: a name from pipelines/engine/metrics.py (a regression metric gives a number per image);
    submission: "label", "probability" (binary: the `positive` class's) or "probabilities" (a column
    per class: the classes are the sample's columns); classes: the class names, when known (a label
    outside them is an error; default: the labels' values); size: every image is fitted to size x size
    (--set image_size=...), by `resize` = "crop" (aspect kept, centre crop), "pad" or "stretch";
    members: names from pipelines/recipes/image_members.py (lite0, lite1, lite2, finetune, cnn), or a dict
    of name -> such a name or a Member (default: all of them; the models run by default are cnn
    for size <= 64, else frozen lite1 + lite2, when they are among the members);
    imagenet_classes: (first, stop) when every class is an ImageNet class in that range (the frozen
    heads and finetune start from ImageNet's classifier rows); params: shared parameters and new
    defaults for members' ("cnn.max_epochs": 12); presets: merged over the recipe's cpu and gpu;
    mirror: whether a mirrored image keeps its label (photos: yes; digits, letters, text: no), for the
    members' training augmentation and test-time views."""
    metric = with_target_transform(metric_named(metric) if isinstance(metric, str) else metric, target_transform)
    check_form(submission, metric)
    if resize not in RESIZE:
        raise ValueError(f"resize={resize!r}: choose one of {', '.join(RESIZE)}")
    if imagenet_classes is not None and not (len(imagenet_classes) == 2 and
                                             0 <= imagenet_classes[0] < imagenet_classes[1] <= 1000):
        raise ValueError(f"imagenet_classes={imagenet_classes!r}: give (first, stop) with 0 <= first < stop <= 1000")
    small = size <= SMALL
    members = tuple(LIBRARY) if members is None else members  # every one can be chosen per run
    built = declared_members(members, lambda spec: LIBRARY[spec](metric.classification, imagenet_classes),
                             f"pipelines/recipes/image_members.py ({', '.join(LIBRARY)})")
    built = with_defaults(built, {f"{name}.mirror": bool(mirror) for name, member in built.items()
                                  if "mirror" in member.params})
    built = with_defaults(built, {key: value for key, value in (params or {}).items() if "." in key})
    default_models = tuple(member for member in built if member in (SMALL_MEMBERS if small else PHOTO_MEMBERS))
    shared = {"models": default_models or tuple(built)[:1],
              "image_size": Param(size, low=8),
              "views": Param("none", choices=VIEWS),  # views averaged into a frozen backbone's embedding
              **{key: value for key, value in (params or {}).items() if "." not in key}}
    gpu = {key: value for key, value in (GPU_SMALL if small else GPU_PHOTOS).items()
           if key.split(".")[0] in built or (key == "models" and "finetune" in built)}
    merged = {"cpu": {}, "gpu": gpu}
    for preset, values in (presets or {}).items():
        merged[preset] = {**merged.get(preset, {}), **values}
    competition = Competition(
        name=name, slug=slug, metric=metric,
        load=image_loader(id_column, target, metric, labels, images, test_images, submission, positive,
                          sample_submission, resize, name, lambda: competition.defaults, classes, imagenet_classes),
        members=built, params=shared, splitter=default_splitter(metric.classification, False),
        submission=tabular_submission(id_column, target, metric, submission, positive),
        check_submission=tabular_check(metric, submission),
        classes=image_classes(id_column, target, labels, submission, sample_submission, classes)
        if metric.classification else None,
        monitor="valid_loss", presets=merged, description=description,
        files=(labels, sample_submission), sample_submission=sample_submission,
    )
    return competition
