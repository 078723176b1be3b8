"""Turning raw competition files into model inputs."""
