"""Small helpers every chapter uses: seeding, choosing a device, counting parameters, and
(for the exercises' test cells) refusing the library calls an exercise forbids."""

from __future__ import annotations

import contextlib
import importlib
import os
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from companion.checks import check_choice, check_instance, check_int

__all__ = [
    "count_parameters",
    "forbidden_calls",
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
    check_instance("module", module, nn.Module)
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


def _owner(path: str) -> object:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ValueError(f"names must start with an importable module, got {path!r}")


def _refuse(name: str) -> Callable[..., object]:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"{name} must not be called in this exercise, got a call")

    return refuse


@contextlib.contextmanager
def forbidden_calls(*names: str) -> Iterator[None]:
    """Inside the block, calling any of ``names`` raises ``AssertionError``.

    For the exercises' test cells: an exercise that says "without autograd" or "do not call
    ``torch.linalg.lstsq``" runs the learner's function inside
    ``with forbidden_calls("torch.autograd.grad", "torch.linalg.lstsq"):``, so a shortcut fails
    its test with ``"<name> must not be called in this exercise, got a call"``. Each name is
    a dotted path to a function or method (``"torch.linalg.inv"``, ``"torch.Tensor.backward"``);
    the originals are restored on leaving the block, also after an error. Calls made inside
    PyTorch's C++ code are not seen: this catches what a learner writes, not all it runs.

    Raises:
        ValueError: a name that does not start with an importable module.
        AttributeError: a name that does not exist.
    """
    patched: list[tuple[object, str, object]] = []
    try:
        for name in names:
            owner_path, _, attr = name.rpartition(".")
            owner = _owner(owner_path)
            original = getattr(owner, attr)  # AttributeError for a name that does not exist
            setattr(owner, attr, _refuse(name))
            patched.append((owner, attr, original))
        yield
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)
