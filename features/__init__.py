"""Turning raw competition files into model inputs: tabular steps, image decoding and its cache,
archives, embeddings of images by pretrained backbones (their networks come from training).

May import: pipelines.core, pipelines.training.
"""
