"""The triplet chapter's digits experiment: the mining strategy chosen on validation, the
final fit scored on test, the digits at random places on a larger canvas, and classes never
trained on (:func:`digits_triplet`), and the images it uses (:func:`digits_data`).

``benchmarks/bench_kernels.py`` runs it under every CPU kernel level and seed through the
registered run ``triplet`` (:mod:`companion.train.retrieval_runs`).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from companion.data.augment import random_placement, shift_on_canvas
from companion.data.digits import load_digits
from companion.metric.miners import STRATEGIES
from companion.metric.retrieval import nearest_neighbor_accuracy, recall_at_k
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet
from companion.train.loop import fit, predict
from companion.train.recipe import seeded
from companion.train.recipes import (
    DIGITS_TRIPLET,
    DIGITS_TRIPLET_FINAL,
    DIGITS_TRIPLET_OPEN,
    DIGITS_TRIPLET_SHIFTED,
)

__all__ = ["DIGITS_ROLES", "digits_data", "digits_triplet"]

#: The role of each image set of :func:`digits_data`.
DIGITS_ROLES = {"train": "train", "val": "val", "test": "test", "trainval": "final"}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)  # (N, 1, H, W) -> (N, H * W)


def digits_data(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The digits splits every digits run uses (the data set's fixed split, whatever the
    run's ``seed``): ``"train"``, ``"val"``, ``"test"`` and ``"trainval"``."""
    return {split: load_digits(split) for split in ("train", "val", "test", "trainval")}


def digits_triplet(seed: int = 0, *, epochs: int | None = None) -> dict[str, object]:
    """The triplet chapter's digits trainings with ``seed`` (the chapter runs seed 0).

    Each strategy of :data:`~companion.metric.miners.STRATEGIES` trains with
    ``DIGITS_TRIPLET`` and the best validation Recall@1 (then 1-NN accuracy) is kept for
    the final fit on train + validation (``DIGITS_TRIPLET_FINAL``), scored on test. On the
    16x16 canvas (``DIGITS_TRIPLET_SHIFTED``, fresh random placements) the strategy is
    chosen by shifted validation 1-NN accuracy and scored on shifted test digits against
    pixels; trained on the classes 0-4 only (``DIGITS_TRIPLET_OPEN``), Recall@1 among the
    shifted test digits of the classes 5-9. ``epochs`` replaces every recipe's epochs (no
    warm-up): a test's tiny budget.

    Returns:
        The choices and scores by name (the fields of ``benchmarks/bench_kernels.py``'s
        triplet rows).
    """
    x_train, y_train = load_digits("train")
    x_val, y_val = load_digits("val")
    x_test, y_test = load_digits("test")
    x_trainval, y_trainval = load_digits("trainval")
    canvas = 16
    shifted = {
        "train": shift_on_canvas(x_train, canvas_size=canvas, generator=_generator(1)),
        "val": shift_on_canvas(x_val, canvas_size=canvas, generator=_generator(2)),
        "test": shift_on_canvas(x_test, canvas_size=canvas, generator=_generator(3)),
    }

    def train(image_size: int, x, y, recipe, strategy: str, **kwargs) -> EmbeddingNet:
        model = seeded(lambda: EmbeddingNet(EmbeddingConfig(image_size=image_size, dim=32)), seed)
        fit(model, x, y, replace(recipe.shortened(epochs), strategy=strategy), seed=seed, **kwargs)
        return model

    select = {}
    for strategy in STRATEGIES:
        model = train(8, x_train, y_train, DIGITS_TRIPLET, strategy)
        val_emb = predict(model, x_val)
        select[strategy] = (
            recall_at_k(val_emb, y_val, k=1),
            nearest_neighbor_accuracy(val_emb, y_val, predict(model, x_train), y_train),
        )
    best = max(STRATEGIES, key=lambda s: select[s])
    model = train(8, x_trainval, y_trainval, DIGITS_TRIPLET_FINAL, best)
    gallery_emb, test_emb = predict(model, x_trainval), predict(model, x_test)

    placement = random_placement(canvas)
    shift_models, shift_val = {}, {}
    for strategy in STRATEGIES:
        net = train(canvas, x_train, y_train, DIGITS_TRIPLET_SHIFTED, strategy, transform=placement)
        shift_models[strategy] = net
        shift_val[strategy] = nearest_neighbor_accuracy(
            predict(net, shifted["val"]), y_val, predict(net, shifted["train"]), y_train
        )
    shift_best = max(STRATEGIES, key=lambda s: shift_val[s])
    shift_model = shift_models[shift_best]
    shift_test_1nn = nearest_neighbor_accuracy(
        predict(shift_model, shifted["test"]),
        y_test,
        predict(shift_model, shifted["train"]),
        y_train,
    )
    pixel_shift_test_1nn = nearest_neighbor_accuracy(
        _pixels(shifted["test"]), y_test, _pixels(shifted["train"]), y_train
    )

    seen, unseen = y_train < 5, y_test >= 5
    open_model = train(
        canvas, x_train[seen], y_train[seen], DIGITS_TRIPLET_OPEN, shift_best, transform=placement
    )
    return {
        "strategy": best,
        "select_val_recall_1nn": {s: list(v) for s, v in select.items()},
        "test_1nn": nearest_neighbor_accuracy(test_emb, y_test, gallery_emb, y_trainval),
        "test_recall": recall_at_k(test_emb, y_test, k=1),
        "shift_strategy": shift_best,
        "shift_val_1nn": shift_val,
        "shift_test_1nn": shift_test_1nn,
        "pixel_shift_test_1nn": pixel_shift_test_1nn,
        "shift_gain_points": 100 * (shift_test_1nn - pixel_shift_test_1nn),
        "unseen_recall": recall_at_k(predict(open_model, shifted["test"][unseen]), y_test[unseen]),
        "pixel_unseen_recall": recall_at_k(_pixels(shifted["test"][unseen]), y_test[unseen]),
    }
