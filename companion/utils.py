"""Small helpers every chapter uses: seeding, choosing a device, counting parameters."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn

from companion.checks import check_choice, check_int

__all__ = [
    "count_parameters",
    "get_device",
    "progress_enabled",
    "seed_everything",
]


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy's legacy global RNG and PyTorch (CPU and CUDA).

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed``, for code that prefers
    an explicit generator to the global state.

    Raises:
        TypeError: if ``seed`` is not an ``int``.
        ValueError: if ``seed`` is negative or does not fit in 32 bits (NumPy's limit).
    """
    check_int("seed", seed, low=0, high=2**32 - 1)  # NumPy's limit
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeding the legacy global state is the point here
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """The device to compute on: CUDA when present, else the CPU.

    Args:
        prefer: ``None`` (choose automatically), ``"cpu"`` or ``"cuda"``. Asking for
            ``"cuda"`` on a machine without it raises, rather than silently using the CPU.

    Raises:
        ValueError: for any other ``prefer``, or ``"cuda"`` when CUDA is not available.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_choice("prefer", prefer, (None, "cpu", "cuda"))
    if prefer == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' was asked for, but torch.cuda.is_available() is False")
    return torch.device(prefer)


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``module`` (each shared tensor counted once).

    Args:
        module: any ``torch.nn.Module``.
        trainable_only: count only parameters with ``requires_grad=True``.

    Raises:
        TypeError: if ``module`` is not an ``nn.Module``.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    params = module.parameters()  # yields each shared parameter once
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether a long loop should draw a progress bar.

    ``progress=None`` means: yes, unless the environment variable ``COMPANION_PROGRESS``
    is ``"0"``. The test suite and the notebook runner set it, so progress bars never end
    up in stored notebook outputs, while a learner running a notebook sees them.
    """
    if progress is not None:
        return bool(progress)
    return os.environ.get("COMPANION_PROGRESS", "1") != "0"
