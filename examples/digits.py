"""Handwritten digits: 8x8 grayscale images of 0-9, scored by accuracy; a mirrored digit is another digit."""
from pipelines.image import image_competition

COMPETITION = image_competition(name="digits", slug="digits-playground", id_column="id", target="label",
                                metric="accuracy", size=8, mirror=False)
