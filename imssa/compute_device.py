"""Where the tensors of training, programming and simulation live: one setting, ``IMSSA_DEVICE``.

``IMSSA_DEVICE`` names a torch device (``cpu``, the default; ``cuda``, ``cuda:1``, ``mps``).
Training (``TrainConfig.device`` takes it as its default), the programming draws
(``hardware.deploy``) and both simulation modes follow it. A device's random stream is its own:
draws are reproducible per device, and a GPU's models and programmings are not the CPU's, so the
device is part of every configuration and checkpoint key that depends on it (CPU results are
unchanged).
"""

from __future__ import annotations

import os

import torch

__all__ = ["ENV", "compute_device", "device_name", "generator"]

#: The environment variable that names the device.
ENV = "IMSSA_DEVICE"


def device_name(name: str | None = None) -> str:
    """The canonical name (``str(torch.device(...))``) of ``name``, default ``$IMSSA_DEVICE`` or
    ``cpu``; a ValueError before any work if it is not a torch device or is not present here
    (``$IMSSA_DEVICE`` or ``TrainConfig.device``)."""
    name = (os.environ.get(ENV, "") if name is None else name).strip() or "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"device {name!r} is not a torch device ({err}); use cpu, cuda, cuda:<i> or mps"
        ) from None
    present = {
        "cpu": lambda: True,
        "cuda": torch.cuda.is_available,
        "mps": lambda: torch.backends.mps.is_available(),
    }
    if device.type not in present:
        raise ValueError(
            f"device {name!r}: type {device.type!r} is not supported; use cpu, cuda or mps"
        )
    if not present[device.type]():
        raise ValueError(
            f"device {name!r}: this machine has no {device.type} device (torch {torch.__version__})"
        )
    if (
        device.type == "cuda"
        and device.index is not None
        and device.index >= torch.cuda.device_count()
    ):
        raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA devices here")
    return str(device)


def compute_device() -> torch.device:
    """The device named by ``$IMSSA_DEVICE`` (``device_name``)."""
    return torch.device(device_name())


def generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A generator on ``device`` (default ``compute_device()``) seeded with ``seed``."""
    return torch.Generator(device=compute_device() if device is None else device).manual_seed(seed)
