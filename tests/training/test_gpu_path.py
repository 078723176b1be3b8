"""The GPU presets' code path, run on the CPU: torch.compile, bf16 autocast, static shapes."""
import numpy as np
import pandas as pd
import pytest
import torch

from pipelines import predict as predict_cli
from pipelines.run import main as run_main
from pipelines.training.datamodules import rows_loader
from tests.synthetic import make_cifar, make_dog_breeds


@pytest.fixture
def bf16(monkeypatch):
    """Mixed precision as on a GPU with bf16 (autocast runs in bf16 on a CPU too)."""
    monkeypatch.setattr("pipelines.training.trainer.mixed_precision", lambda: "bf16-mixed")


def test_cifar10_gpu_preset_compiles_and_runs_in_bf16_on_the_cpu(bf16, tmp_path, in_tmp, capsys):
    folder = make_cifar(tmp_path / "cifar-10", n_train=200, n_test=30)
    run_main(["cifar10", "--data-dir", str(folder), "--preset", "gpu", "--set", "cnn.widths=8,8,8",
              "--set", "cnn.batch_size=32", "--set", "cnn.max_epochs=2", "--submission", "s.csv"])
    err = capsys.readouterr().err
    assert "without torch.compile" not in err  # a C++ compiler is here: the network was compiled
    submission = pd.read_csv(in_tmp / "s.csv")
    assert len(submission) == 30 and submission.label.notna().all()
    [run_dir] = (in_tmp / "runs" / "cifar10").iterdir()
    predict_cli.main([str(run_dir), "--submission", "again.csv"])  # compiled in place: the checkpoint loads
    assert len(pd.read_csv(in_tmp / "again.csv")) == 30


def test_dog_breeds_gpu_preset_fine_tunes_in_bf16_on_the_cpu(bf16, tmp_path, in_tmp):
    folder = make_dog_breeds(tmp_path / "dog-breed-identification", n_test=6)
    run_main(["dog_breeds", "--data-dir", str(folder), "--preset", "gpu", "--folds", "2", "--set", "image_size=64",
              "--set", "finetune.backbone=tiny", "--set", "finetune.max_epochs=1", "--set", "finetune.batch_size=32",
              "--set", "finetune.num_workers=0", "--set", "finetune.unfreeze=2", "--submission", "s.csv"])
    probabilities = pd.read_csv(in_tmp / "s.csv").iloc[:, 1:].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)


def test_the_network_compiles_once_and_without_a_compiler_runs_eagerly(monkeypatch, capsys):
    from types import SimpleNamespace

    from pipelines.training.models.classifier import ImageClassifier

    calls = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: calls.append(self))
    module = ImageClassifier(num_classes=3, widths=(8, 8, 8), compile=True)
    trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")))
    monkeypatch.setattr(ImageClassifier, "trainer", property(lambda self: trainer))
    module.setup("fit")
    module.setup("predict")  # a predict Trainer after fitting: no second compilation
    assert calls == [module.net]
    monkeypatch.setattr("pipelines.training.trainer.compiler_missing", lambda device: "no C++ compiler was found")
    other = ImageClassifier(num_classes=3, widths=(8, 8, 8), compile=True)
    other.setup("fit")
    err = capsys.readouterr().err
    assert calls == [module.net] and err.count("without torch.compile") == 1


def test_predict_batches_copy_only_themselves_and_pad_to_one_shape(tmp_path):
    path = tmp_path / "images.npy"
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(10, 4, 4, 3))
    images[:] = np.arange(10, dtype=np.uint8)[:, None, None, None]
    images.flush()
    cache = np.load(path, mmap_mode="r")  # read-only, as image caches are
    batches = [batch for (batch,) in rows_loader(cache, 4, pad=True)]
    assert [tuple(b.shape) for b in batches] == [(4, 4, 4, 3)] * 3
    assert torch.cat(batches)[:10, 0, 0, 0].tolist() == list(range(10))  # the padding repeats row 9
    assert batches[-1][:, 0, 0, 0].tolist() == [8, 9, 9, 9]
    assert [len(b) for (b,) in rows_loader(cache, 4)] == [4, 4, 2]


def test_a_gpu_too_old_for_triton_runs_eagerly(monkeypatch):
    import importlib.util

    from pipelines.training.trainer import compiler_missing

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "triton" else real(name, *a))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (6, 0))  # a P100
    assert "compute capability 6.0 is below the 7.0 Triton needs" in compiler_missing("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))  # a T4
    assert compiler_missing("cuda") is None


def test_a_model_loaded_to_predict_never_compiles(monkeypatch):
    from types import SimpleNamespace

    from pipelines.training.models.classifier import ImageClassifier

    calls = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: calls.append(self))
    trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")))
    monkeypatch.setattr(ImageClassifier, "trainer", property(lambda self: trainer))
    ImageClassifier(num_classes=3, widths=(8, 8, 8), compile=True).setup("predict")  # as pipelines.predict loads it
    assert calls == []
