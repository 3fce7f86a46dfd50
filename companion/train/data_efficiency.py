"""The ViT chapter's data-efficiency runs, registered in :mod:`companion.train.registry`.

Does a convolution's built-in prior matter less as the images grow in number? Each run
trains the chapter's ViT (``VIT_FASHION``) and ``SmallCNN`` with ``recipes.FASHION_FULL``
on a class-balanced subset of the 60,000 training images ("trainval": nothing is chosen
on these runs, so no validation split is held out) and scores each once on the 10,000
test images. One run is registered per size in :data:`SIZES` (``fashion_size_1000``, ...);
the largest is the full recipe on every image. A subset of ``n`` images gets more passes
than the full set (:func:`epochs_for`: the full recipe's number of optimiser steps, but at
most :data:`MAX_EPOCHS` passes), so that a small set is not judged on a few hundred steps;
the record says how many steps each size took.

The runs take many CPU minutes (the full recipe: about 12 for the ViT, 6 for the CNN), so
their rows in ``benchmarks/results/fashion_cpu.json`` are measured at the machine's best
kernel level::

    python benchmarks/bench_kernels.py --out benchmarks/results/fashion_cpu.json \\
        --levels avx2 --seeds 0 --merge
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch

from companion.data.augment import FlipAveraged
from companion.data.fashion_mnist import load_fashion_mnist
from companion.nn.cnn import SmallCNN
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_FASHION
from companion.train.loop import accuracy, fit
from companion.train.recipe import Recipe, seeded
from companion.train.recipes import FASHION_FULL
from companion.train.registry import register_run
from companion.utils import count_parameters

__all__ = [
    "FULL_IMAGES",
    "MAX_EPOCHS",
    "SIZES",
    "TINY_IMAGES",
    "ZALANDO_ROWS",
    "DataEfficiency",
    "epochs_for",
    "recipe_for",
    "run_name",
    "size_data",
    "train_by_size",
]

#: Fashion-MNIST's training images.
FULL_IMAGES = 60_000
#: The training-set sizes measured, each a registered run.
SIZES: tuple[int, ...] = (1_000, 5_000, 20_000, FULL_IMAGES)
#: The most passes a small subset gets.
MAX_EPOCHS = 50
#: Training and test images of a ``tiny`` run (the tests' budget).
TINY_IMAGES = 200
#: A few rows of Zalando's benchmark table for Fashion-MNIST (the ``fashion-mnist``
#: repository's README and ``benchmark/baselines.json``), test accuracy, for comparison
#: with numbers nobody here wrote.
ZALANDO_ROWS: dict[str, float] = {
    "SVC (C=10, RBF kernel)": 0.897,
    "MLPClassifier (100 hidden, ReLU)": 0.871,
    "RandomForestClassifier (100 trees)": 0.873,
    "LogisticRegression": 0.842,
    "KNeighborsClassifier (k=5)": 0.854,
}


def epochs_for(n: int, full_epochs: int = FASHION_FULL.epochs, max_epochs: int = MAX_EPOCHS) -> int:
    """Passes over ``n`` images: the full recipe's number of passes times 60,000 / ``n``
    (about its number of optimiser steps), but at most ``max_epochs`` and at least
    ``full_epochs``:

        epochs = max(full_epochs, min(max_epochs, ceil(full_epochs * 60000 / n)))
    """
    return max(full_epochs, min(max_epochs, math.ceil(full_epochs * FULL_IMAGES / n)))


def recipe_for(n: int) -> Recipe:
    """``recipes.FASHION_FULL`` with :func:`epochs_for` ``(n)`` passes."""
    return replace(FASHION_FULL, epochs=epochs_for(n))


def run_name(n: int) -> str:
    """The registered run that trains on ``n`` images, e.g. ``"fashion_size_1000"``."""
    return f"fashion_size_{n}"


def size_data(n: int, seed: int = 0, *, tiny: bool = False) -> dict[str, tuple[torch.Tensor, ...]]:
    """The images of the run on ``n`` training images with ``seed``: ``"final"``, the
    seed's class-balanced subset of the 60,000 training images (all of them for 60,000),
    and ``"test"``, the test split (``tiny``: :data:`TINY_IMAGES` of each)."""
    if tiny:
        return {
            "final": load_fashion_mnist("trainval", limit=TINY_IMAGES, subset_seed=seed),
            "test": load_fashion_mnist("test", limit=TINY_IMAGES),
        }
    subset = {"limit": n, "subset_seed": seed} if n < FULL_IMAGES else {}
    return {"final": load_fashion_mnist("trainval", **subset), "test": load_fashion_mnist("test")}


@dataclass(frozen=True)
class DataEfficiency:
    """The ViT and the CNN trained with one seed on ``train_images`` images: the recipe's
    passes and optimiser steps, each model's parameters, test accuracy in [0, 1] (plain and
    ``FlipAveraged``), last epoch's training loss and CPU seconds of its training."""

    train_images: int
    epochs: int
    steps: int
    vit_parameters: int
    vit_test: float
    vit_test_flip_averaged: float
    vit_loss: float
    vit_seconds_cpu: float
    cnn_parameters: int
    cnn_test: float
    cnn_test_flip_averaged: float
    cnn_loss: float
    cnn_seconds_cpu: float


def train_by_size(n: int, seed: int = 0, *, tiny: bool = False) -> DataEfficiency:
    """The ViT and the CNN, each with :func:`recipe_for` ``(n)`` and ``seed`` on
    :func:`size_data` ``(n, seed)``, scored on its test images (``tiny``: one epoch on
    :data:`TINY_IMAGES` images, the tests' budget)."""
    data = size_data(n, seed, tiny=tiny)
    (x, y), (x_test, y_test) = data["final"], data["test"]
    recipe = replace(recipe_for(n), epochs=1, warmup_epochs=0) if tiny else recipe_for(n)
    builders = {"vit": lambda: VisionTransformer(VIT_FASHION), "cnn": SmallCNN}
    scores: dict[str, float | int] = {}
    for name, build in builders.items():
        model = seeded(build, seed)
        cpu = time.process_time()
        history = fit(model, x, y, recipe, seed=seed)
        scores[f"{name}_seconds_cpu"] = time.process_time() - cpu
        scores[f"{name}_parameters"] = count_parameters(model)
        scores[f"{name}_test"] = accuracy(model, x_test, y_test)
        scores[f"{name}_test_flip_averaged"] = accuracy(FlipAveraged(model), x_test, y_test)
        scores[f"{name}_loss"] = history.train_loss[-1]
    return DataEfficiency(
        train_images=len(y),
        epochs=recipe.epochs,
        steps=recipe.epochs * math.ceil(len(y) / recipe.batch_size),
        **scores,
    )


def _register(n: int) -> None:
    """Register the run on ``n`` images as :func:`run_name` ``(n)``."""

    def data(seed: int = 0, *, tiny: bool = False) -> dict[str, tuple[torch.Tensor, ...]]:
        return size_data(n, seed, tiny=tiny)

    def run(seed: int = 0, *, tiny: bool = False) -> DataEfficiency:
        return train_by_size(n, seed, tiny=tiny)

    run.__qualname__ = data.__qualname__ = run_name(n)
    run.__doc__ = f":func:`train_by_size` on {n:,} images with ``seed``."
    register_run(
        run_name(n),
        data=data,
        roles={"final": "final", "test": "test"},
        fashion_mnist=True,
        recipes={"vit": recipe_for(n), "cnn": recipe_for(n)},
        results="fashion_cpu.json",
    )(run)


for _n in SIZES:
    _register(_n)
