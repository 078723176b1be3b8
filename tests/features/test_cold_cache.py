"""A cold image cache: each image embedded once whatever the processes, long passes that say how
they go, and a disk that is full or may not be written to as one line."""
import errno
import multiprocessing
import re

import numpy as np
import pytest

from features import embeddings, images
from pipelines.core import progress
from pipelines.core.context import Context, settle
from pipelines.core.errors import UserError
from pipelines.run import main as run_main
from tests.synthetic import make_pets


def embed_in_a_process(cache_dir, pixels, queue):
    """What a worker does: embed the images it needs, reporting how many it computed itself."""
    settle(Context(cache_dir=cache_dir))
    said = []
    embeddings.BackboneEmbedding("tiny", views="none").transform(pixels, log=said.append)
    queue.put(int(re.search(r"embedded (\d+) images", said[0]).group(1)) if said else 0)


def test_two_processes_embed_each_image_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (160, 32, 32, 3), dtype=np.uint8)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=embed_in_a_process, args=(tmp_path, pixels[rows], queue))
               for rows in (slice(0, 160), slice(40, 160))]  # like two folds' overlapping training rows
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    computed = [queue.get(timeout=10) for _ in workers]
    assert sum(computed) == 160  # not 160 + 120: the second process waits for a chunk the first holds
    store_folder = next((tmp_path / "embeddings").iterdir())
    assert len(embeddings.EmbeddingStore(store_folder).index) == 160


def test_embedding_alone_gives_the_same_numbers_in_any_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path))
    pixels = np.random.default_rng(1).integers(0, 255, (21, 32, 32, 3), dtype=np.uint8)
    network, _ = embeddings.backbone("tiny")
    step = embeddings.BackboneEmbedding("tiny", views="none")
    whole = step.embed(network, pixels)
    np.testing.assert_array_equal(step.embed(network, pixels[17:]), whole[17:])  # a short batch, padded


def test_a_long_pass_prints_a_line_at_most_every_so_often(monkeypatch):
    said = []
    monkeypatch.setattr(progress, "say", said.append)
    monkeypatch.setattr(progress, "interactive", lambda: False)
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    bar = progress.Pass("embedding with lite1", 100, every=30.0)
    for _ in range(10):  # 10 images every 10 seconds
        now[0] += 10.0
        bar.update(10)
    bar.close()
    assert len(said) == 3  # at 30, 60 and 90 of the clock's seconds, not after every update
    assert said[0] == "embedding with lite1: 30/100 images, 1.0 images/s, 1 min 10 s left"


def test_a_full_disk_and_a_folder_that_may_not_be_written_are_one_line(tmp_path, in_tmp, monkeypatch, capsys):
    from pipelines.core import files

    data = make_pets(tmp_path / "pets")
    monkeypatch.setattr(images.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1000})())
    from pipelines.recipes.image import image_competition

    competition = image_competition(name="pets", slug="pets", id_column="id", target="label", metric="accuracy",
                                    size=32)
    with pytest.raises(UserError, match="not enough free space in .* for the image cache"):
        competition.load(data)
    assert not list((in_tmp / "cache").rglob("*.tmp")) and not list((in_tmp / "cache").rglob("*.npy"))

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(in_tmp / "runs"))

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    from tests.synthetic import make_house_prices

    house = make_house_prices(tmp_path / "house")
    with pytest.raises(SystemExit) as exit_info:
        run_main(["house_prices", "--data-dir", str(house), "--set", "models=lasso", "--folds", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith(f"error: not allowed to write {in_tmp / 'runs'} (Permission denied)")
