"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 70,000 grey 28x28 images of 10 clothing
classes, read from its four IDX files with no network.

The files are looked for, in this order, in the folder given as ``root``, in the folder
named by the environment variable ``FASHION_MNIST_DIR``, and in Debian's install folder
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``). Each may
be gzipped (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``).

An IDX file is a big-endian header, then the raw bytes of one array:

    magic = 0x00 0x00 <dtype code> <number of dimensions>,  one uint32 per dimension,  data

(dtype code ``0x08``: unsigned bytes). Every header is checked against the data set's known
shape and the file's exact length, every label against 0..9, and each of the release's
files end to end, its decompressed bytes against the release's SHA-256 (``SHA256``), so
a truncated, corrupt or mislabelled file raises an error that names it, never a wrong array.

The splits are a property of the data set, never of a run: the validation split is carved
out of the 60,000 training images (``val_size`` of them, the same share of every class) by
the fixed :data:`SPLIT_SEED`, which no run varies, and the 10,000 test images are scored
only for final claims:

==============  ===========================================================
``"train"``     the 60,000 training images less the validation ones
``"val"``       ``val_size`` training images (default 5,000); for every choice
``"trainval"``  all 60,000 training images (a final fit)
``"test"``      the 10,000 test images; scored once, at the end
==============  ===========================================================

A run that trains on a subset (``limit``) chooses it with ``subset_seed``, which only picks
images *within* the split asked for, so a training subset never holds a validation or test
image whatever the seed (nanoGPT's rule: the split is fixed once, the run seed only seeds
the run). Both seeds are integers because they name a set of images (a result records them);
the random draws made while training take a ``torch.Generator``.

Longer than the ~300 lines a module may take: one data set, its file format, checks and
splits, read top to bottom as one loader.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch

from companion.checks import check_choice, check_int, check_multiple
from companion.data._fashion_mnist_release import SHA256, verify_release_file

__all__ = [
    "CLASS_NAMES",
    "DEBIAN_DIR",
    "ENV_VAR",
    "FASHION_MNIST_SHAPE",
    "FILES",
    "MEAN",
    "SHA256",
    "SPLITS",
    "SPLIT_SEED",
    "STD",
    "FashionMNISTNotFoundError",
    "fashion_mnist_dir",
    "load_fashion_mnist",
    "read_idx",
]

#: ``(channels, height, width)`` of one image.
FASHION_MNIST_SHAPE: tuple[int, int, int] = (1, 28, 28)
#: The ten classes, by label.
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
#: The split names :func:`load_fashion_mnist` accepts.
SPLITS: tuple[str, ...] = ("train", "val", "test", "trainval")
#: The seed of the validation split, fixed for the data set and never varied per run.
SPLIT_SEED = 0
#: The environment variable that names a folder holding the four files.
ENV_VAR = "FASHION_MNIST_DIR"
#: Where Debian's package ``dataset-fashion-mnist`` installs them.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The four files, without ``.gz`` (the real ones hold 60,000 and 10,000 items).
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Mean and standard deviation of the training pixels (in [0, 1]), for normalising.
MEAN, STD = 0.2860, 0.3530

_HOW_TO_GET = (
    "Install Debian's package (apt-get install dataset-fashion-mnist), or download the four "
    "files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
    "and t10k-labels-idx1-ubyte.gz from Zalando Research's fashion-mnist repository (its "
    f"data/fashion folder) into a folder and set {ENV_VAR} to that folder."
)


_REINSTALL = (
    "apt-get install --reinstall dataset-fashion-mnist, or download the four files again "
    "from Zalando Research's fashion-mnist release (its data/fashion folder) into a folder "
    f"and set {ENV_VAR} to that folder."
)


class FashionMNISTNotFoundError(FileNotFoundError):
    """The four Fashion-MNIST files are in none of the folders looked in."""


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def fashion_mnist_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder the files are read from: ``root``, else ``$FASHION_MNIST_DIR``, else
    :data:`DEBIAN_DIR`; the first one given is the only one tried.

    Raises:
        FashionMNISTNotFoundError: if that folder lacks one of the four files; the message
            lists what is missing and how to get it.
    """
    if root is not None:
        folder, origin = Path(root), "the folder given as root"
    elif os.environ.get(ENV_VAR):
        folder, origin = Path(os.environ[ENV_VAR]), f"the folder named by {ENV_VAR}"
    else:
        folder, origin = DEBIAN_DIR, "Debian's install folder"
    missing = [stem for stem in FILES.values() if _find(folder, stem) is None]
    if missing:
        raise FashionMNISTNotFoundError(
            f"Fashion-MNIST not found: {origin}, {folder}, lacks {', '.join(missing)} "
            f"(gzipped or not). {_HOW_TO_GET}"
        )
    return folder


def read_idx(path: str | os.PathLike, shape: Sequence[int | None]) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzipped if its name ends in ``.gz``).

    Args:
        path: the file.
        shape: the shape its header must give, ``None`` for a size that may be anything
            but 0, e.g. ``(None, 28, 28)``.

    Returns:
        A ``uint8`` array of the header's shape.

    Raises:
        ValueError: naming the file, if it is not valid gzip, its header is not an IDX
            header of unsigned bytes with that shape, it is shorter or longer than the
            header says, or it is one of the release's files (by name and number of items)
            whose decompressed bytes do not match ``SHA256``.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} is not a readable gzip file ({err})") from err
    ndim = len(shape)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes, shorter than an IDX header")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != ndim:
        raise ValueError(
            f"{path} is not an IDX file of unsigned bytes with {ndim} dimensions: its magic "
            f"number is {raw[:4].hex()}, expected 000008{ndim:02x}"
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if any(d == 0 or (want is not None and d != want) for d, want in zip(dims, shape, strict=True)):
        wanted = tuple("N" if want is None else want for want in shape)
        raise ValueError(f"{path} holds an array of shape {dims}, expected {wanted}")
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"{path} is {kind}: {len(raw)} bytes, expected {expected}")
    verify_release_file(path, raw, dims[0], _REINSTALL)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_part(folder: Path, part: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find(folder, FILES[f"{part}_images"])
    labels_path = _find(folder, FILES[f"{part}_labels"])
    images = read_idx(images_path, (None, 28, 28))
    labels = read_idx(labels_path, (None,))
    if len(labels) != len(images):
        raise ValueError(
            f"{labels_path} holds {len(labels)} labels but {images_path} holds {len(images)} "
            "images: the files do not belong together"
        )
    if labels.max() > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise ValueError(
            f"{labels_path} is mislabelled: labels must be 0..9, got {labels[bad]} at item {bad}"
        )
    return images, labels


@cache
def _arrays(folder: Path) -> dict[str, np.ndarray]:
    train_images, train_labels = _read_part(folder, "train")
    test_images, test_labels = _read_part(folder, "test")
    return {
        "train_images": train_images,
        "train_labels": train_labels.astype(np.int64),
        "test_images": test_images,
        "test_labels": test_labels.astype(np.int64),
    }


def _val_indices(labels: np.ndarray, val_size: int, seed: int) -> np.ndarray:
    """``val_size`` indices, the same number from each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    per_class = val_size // len(classes)
    if per_class >= counts.min():
        raise ValueError(
            f"val_size must leave training images in every class: {per_class} per class, "
            f"got classes of only {counts.min()} training images"
        )
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes]
    return np.sort(np.concatenate(chosen))


def load_fashion_mnist(
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    val_size: int = 5_000,
    split_seed: int = SPLIT_SEED,
    subset_seed: int = 0,
    classes: Sequence[int] | None = None,
    limit: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of Fashion-MNIST as ``(images, labels)`` tensors.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` or ``"trainval"`` (see the module doc).
        root: the folder holding the four files (default: ``$FASHION_MNIST_DIR``, else
            Debian's folder).
        val_size: training images held out for validation, a multiple of 10 (the same
            number from each class).
        split_seed: fixes which training images are validation ones; a property of the
            data set (:data:`SPLIT_SEED`), not to be varied per run.
        subset_seed: fixes the ``limit`` subset, drawn within ``split`` (so it never
            changes which images are validation or test ones); a run passes its seed here.
        classes: keep only these labels (e.g. ``range(5)``), labels unchanged.
        limit: keep a seeded subset of this many images, the same number from each kept
            class (a multiple of their count); ``None`` keeps all.
        device: where to put the tensors (default: the CPU).

    Returns:
        ``images``: float32 ``(N, 1, 28, 28)`` with values in [0, 1] (divide by 255);
        ``labels``: int64 ``(N,)`` with values 0..9 (:data:`CLASS_NAMES`).

    Raises:
        FashionMNISTNotFoundError: if the files are not found (the message says how to get
            them).
        ValueError: for a bad split name, size or class, or a corrupt file (named).
    """
    check_choice("split", split, SPLITS)
    check_int("val_size", val_size, low=0, high=50_000)
    check_multiple("val_size", val_size, 10, "(one share per class)")
    arrays = _arrays(fashion_mnist_dir(root).resolve())
    part = "test" if split == "test" else "train"
    images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
    idx = np.arange(len(labels))
    if split in ("train", "val"):
        val = _val_indices(labels, val_size, check_int("split_seed", split_seed, low=0))
        idx = val if split == "val" else np.setdiff1d(idx, val, assume_unique=True)
    if classes is not None:
        kept = sorted({check_int("classes", c, low=0, high=9) for c in classes})
        if not kept:
            raise ValueError("classes must name at least one label 0..9, got none")
        idx = idx[np.isin(labels[idx], kept)]
    else:
        kept = list(range(10))
    if limit is not None:
        check_int("limit", limit, low=len(kept), high=len(idx))
        check_multiple("limit", limit, len(kept), "(the number of classes)")
        rng = np.random.default_rng(check_int("subset_seed", subset_seed, low=0) + 1)
        per_class = limit // len(kept)
        chosen = [rng.permutation(idx[labels[idx] == c])[:per_class] for c in kept]
        idx = np.sort(np.concatenate(chosen))
    x = torch.from_numpy(images[idx].astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.from_numpy(labels[idx])
    return x.to(device), y.to(device)
