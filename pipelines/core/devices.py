"""Which device this process trains on. A worker of the local pool owns one GPU for its whole life
(its context's `gpu`, pipelines/core/context.py), so two GPUs train two folds at a time; a
process that owns none takes the first GPU if there is one, else the CPU.

GPUs are looked for without importing torch first, so runs of CPU-only members never load it."""
import os
from pathlib import Path

from pipelines.core.context import current

# where an NVIDIA driver shows itself: Linux's driver folder, its control device, WSL2's GPU device
DRIVER_SIGNS = ("/proc/driver/nvidia/gpus", "/dev/nvidiactl", "/dev/dxg")


def gpu_count():
    """CUDA devices this process can see: 0 without a sign of an NVIDIA driver (checked before importing
    torch, so CPU-only runs never load it), else torch's count through NVML, which leaves CUDA
    uninitialised in this process (the worker processes it starts still get their own GPU)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return 0
    if not any(Path(sign).exists() for sign in DRIVER_SIGNS):
        return 0
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    import torch

    return torch.cuda.device_count()


def trainer_devices(context=None):
    """The Trainer's accelerator and devices: the owned GPU (a worker sees only that one: CUDA device
    0 in its process), else Lightning's choice of one device."""
    if (context or current()).gpu is not None:
        return {"accelerator": "gpu", "devices": [0]}
    return {"accelerator": "auto", "devices": 1}


def describe(context=None):
    """This process's training device, as the run records it (a worker's GPU by its index among the
    command's GPUs)."""
    gpu = (context or current()).gpu
    if gpu is not None:
        return f"cuda:{gpu}"
    return "cuda" if gpu_count() else "cpu"


def torch_device(context=None):
    """The torch device for work outside a Trainer (e.g. embedding images)."""
    import torch

    if (context or current()).gpu is not None:
        return torch.device("cuda", 0)  # the only GPU a worker that owns one sees
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
