"""The course's data: scikit-learn's bundled 8x8 handwritten digits, as seeded tensors.

scikit-learn ships the 1,797 digits inside the package, so nothing is downloaded. The
split is stratified (each class keeps its share in every split) and depends only on the
fixed :data:`SPLIT_SEED` and the fractions, so every chapter, every run and every learner
gets the same images (no run varies the split; a run's seed seeds only its training):

==============  ===========================================================
``"test"``      ``test_fraction`` of each class; scored once, at the end
``"val"``       ``val_fraction`` of each class; for every modelling choice
``"train"``     the rest
``"trainval"``  train and val together (a final fit once the choices are made)
==============  ===========================================================
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from companion.checks import check_choice, check_int, check_number

__all__ = ["DIGITS_SHAPE", "SPLITS", "SPLIT_SEED", "load_digits"]

#: ``(channels, height, width)`` of one digit image.
DIGITS_SHAPE: tuple[int, int, int] = (1, 8, 8)
#: The split names :func:`load_digits` accepts.
SPLITS: tuple[str, ...] = ("train", "val", "test", "trainval")
#: The seed of the split, fixed for the data set and never varied per run.
SPLIT_SEED = 0


@cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # pixel values 0..16 -> [0, 1]
    return images, bunch.target.astype(np.int64)


def _split_indices(
    labels: np.ndarray, test_fraction: float, val_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = round(test_fraction * len(idx))
        n_val = round(val_fraction * len(idx))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    out = {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}
    out["trainval"] = np.sort(np.concatenate([out["train"], out["val"]]))
    return out


def load_digits(
    split: str = "train",
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.15,
    split_seed: int = SPLIT_SEED,
    flatten: bool = False,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of the 8x8 digits as ``(images, labels)`` tensors.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``"trainval"`` (see the module doc).
        test_fraction: share of each class held out for testing, in (0, 1).
        val_fraction: share of each class held out for validation, in [0, 1).
        split_seed: fixes the split; the same seed and fractions always give the same
            images. A property of the data set (:data:`SPLIT_SEED`), not to be varied per run.
        flatten: return images as ``(N, 64)`` instead of ``(N, 1, 8, 8)``.
        device: where to put the tensors (default: the CPU).

    Returns:
        ``images``: float32 ``(N, 1, 8, 8)`` (or ``(N, 64)``) with values in [0, 1];
        ``labels``: int64 ``(N,)`` with values 0..9.

    Raises:
        ValueError: for an unknown split name, or a fraction outside its interval, or
            fractions that leave no training images.
    """
    check_choice("split", split, SPLITS)
    check_number("test_fraction", test_fraction, low=0, high=1, low_open=True, high_open=True)
    check_number("val_fraction", val_fraction, low=0, high=1, high_open=True)
    if test_fraction + val_fraction >= 1:
        raise ValueError(
            "test_fraction + val_fraction must be below 1 to leave training images, "
            f"got {test_fraction} + {val_fraction} = {test_fraction + val_fraction}"
        )
    check_int("split_seed", split_seed, low=0)
    images, labels = _digits_arrays()
    idx = _split_indices(labels, test_fraction, val_fraction, split_seed)[split]
    x = torch.from_numpy(images[idx]).unsqueeze(1)  # (N, 1, 8, 8)
    if flatten:
        x = x.reshape(len(idx), -1)  # (N, 64)
    y = torch.from_numpy(labels[idx])
    return x.to(device), y.to(device)
