"""Pets: which animal each photo shows, scored by accuracy."""
from pipelines.image import image_competition

COMPETITION = image_competition(
    name="pets",                     # python -m pipelines.run pets
    slug="pets-playground",          # the competition's name in its kaggle.com address
    id_column="id",
    target="label",
    metric="accuracy",               # a classification metric, or rmse/mae: a number per image
    labels="train.csv",              # id and target; ids are text, so 00042 stays 00042
    images="train",                  # train/, train.zip or .7z (test_images="test" too); <id>.<any extension>
    submission="label",              # label, probability or probabilities (one column a class)
    size=128,                        # every image fitted to 128 x 128 RGB (resize="crop", "pad", "stretch")
)
