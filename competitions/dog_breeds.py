"""Dog Breed Identification: 120 breeds from JPEGs, scored by multi-class log loss.

Every breed is an ImageNet class (151-275), so the frozen members' heads and the finetune member
start from ImageNet's classifier rows of the breeds (pipelines/recipes/image_members.py). The default on a
CPU: Lite1 and Lite2 embed every image once (cached) and a head per backbone is calibrated per
fold, blended; the gpu preset fine-tunes Lite0's last blocks.
"""
from pipelines.image import image_competition

COMPETITION = image_competition(
    name="dog_breeds",
    slug="dog-breed-identification",
    id_column="id",
    target="breed",
    metric="log_loss",
    labels="labels.csv",
    submission="probabilities",       # the 120 breeds are the sample's columns
    size=260,                         # Lite2's resolution; each backbone resizes to its own
    resize="stretch",                 # as measured (README); "crop" keeps the aspect
    imagenet_classes=(151, 276),
    members=("lite0", "lite1", "lite2", "tiny", "finetune"),
    params={"finetune.augment": "albumentations"},  # random resized crops, as measured
    presets={"gpu": {"image_size": 224}},
)
