"""Input checks shared by the package: each names the argument, what was expected and what came."""

from __future__ import annotations

import torch

__all__ = [
    "check_floating",
    "check_labels",
    "check_margin",
    "check_matrix",
]


def check_floating(name: str, x: object) -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor; the modules' shared input check.

    Raises:
        TypeError: naming ``name``, if ``x`` is not a tensor, or not of a floating dtype.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_matrix(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def check_labels(labels: object, n: int) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"labels must have shape ({n},) to match the {n} embeddings, "
            f"got shape {tuple(labels.shape)}"
        )
    return labels


def check_margin(margin: float) -> None:
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
