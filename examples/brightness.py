"""Brightness: how bright each image is, scored by RMSE."""
from pipelines.image import image_competition

COMPETITION = image_competition(name="brightness", slug="brightness-playground", id_column="id",
                                target="score", metric="rmse", size=32)
