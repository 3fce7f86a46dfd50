"""The triplet and capstone chapters' measured runs, registered in
:mod:`companion.train.registry`.

Each wraps the experiment the chapter runs (:mod:`companion.train.experiments`) and returns
what ``benchmarks/bench_kernels.py`` stores: a frozen record whose field names are the keys
of the rows of ``benchmarks/results/kernels_cpu.json`` (``triplet``) and
``kernels_capstone_cpu.json`` (``capstone``); ``fashion_triplet`` returns its scores by name
(``kernels_fashion_cpu.json``), as some of its keys (``..._tar_at_far_0.001``) are not
Python names. ``tiny`` trains one epoch on a few images, for the tests only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from companion.train import digits_experiment, experiments
from companion.train.recipes import (
    CAPSTONE,
    DIGITS_TRIPLET,
    DIGITS_TRIPLET_FINAL,
    DIGITS_TRIPLET_OPEN,
    DIGITS_TRIPLET_SHIFTED,
    RETRIEVAL_CNN,
    RETRIEVAL_TRIPLET,
)
from companion.train.registry import register_run

__all__ = ["Capstone", "DigitsTriplet", "capstone", "digits_triplet", "fashion_triplet"]


@dataclass(frozen=True)
class Capstone:
    """Recall@1 of pixels, the ViT and the CNN embedding among the unseen classes'
    validation (``*_val``) and test (``*_test``) images and the seen classes' test images
    (``*_seen_test``); each network's last training loss; CPU seconds of the run."""

    pixel_val: float
    pixel_test: float
    vit_loss: float
    vit_val: float
    vit_test: float
    vit_seen_test: float
    cnn_loss: float
    cnn_val: float
    cnn_test: float
    cnn_seen_test: float
    pixel_seen_test: float
    train_seconds_cpu: float


@register_run(
    "capstone",
    data=lambda seed: experiments.open_set_data(seed=seed),
    roles=experiments.OPEN_SET_ROLES,
    fashion_mnist=True,
    recipes={"vit": CAPSTONE, "cnn": CAPSTONE},
    results="kernels_capstone_cpu.json",
    experiment=lambda seed: experiments.open_set_retrieval(seed=seed),
)
def capstone(seed: int = 0, *, tiny: bool = False) -> Capstone:
    """:func:`~companion.train.experiments.open_set_retrieval` with ``seed``."""
    cpu = time.process_time()
    budget = {"train_images": 500, "epochs": 1, "eval_images": 500} if tiny else {}
    scores = experiments.open_set_retrieval(seed=seed, **budget).scores
    return Capstone(**scores, train_seconds_cpu=time.process_time() - cpu)


@dataclass(frozen=True)
class DigitsTriplet:
    """The triplet chapter's digits runs with one seed (see
    :func:`~companion.train.digits_experiment.digits_triplet`): the strategies chosen, the
    selection scores, test 1-NN accuracy and Recall@1, the shifted digits' scores against
    pixels, the unseen classes' Recall@1 against pixels, and CPU seconds."""

    strategy: str
    select_val_recall_1nn: dict[str, list[float]]
    test_1nn: float
    test_recall: float
    shift_strategy: str
    shift_val_1nn: dict[str, float]
    shift_test_1nn: float
    pixel_shift_test_1nn: float
    shift_gain_points: float
    unseen_recall: float
    pixel_unseen_recall: float
    train_seconds_cpu: float


@register_run(
    "triplet",
    data=digits_experiment.digits_data,
    roles=digits_experiment.DIGITS_ROLES,
    recipes={
        "select": DIGITS_TRIPLET,
        "final": DIGITS_TRIPLET_FINAL,
        "shifted": DIGITS_TRIPLET_SHIFTED,
        "open": DIGITS_TRIPLET_OPEN,
    },
)
def digits_triplet(seed: int = 0, *, tiny: bool = False) -> DigitsTriplet:
    """:func:`~companion.train.digits_experiment.digits_triplet` with ``seed``."""
    cpu = time.process_time()
    result = digits_experiment.digits_triplet(seed, epochs=1 if tiny else None)
    return DigitsTriplet(**result, train_seconds_cpu=time.process_time() - cpu)


@register_run(
    "fashion_triplet",
    data=lambda seed: experiments.fashion_retrieval_data(seed=seed),
    roles=experiments.FASHION_RETRIEVAL_ROLES,
    fashion_mnist=True,
    recipes={"cnn": RETRIEVAL_CNN, "triplet": RETRIEVAL_TRIPLET},
    results="kernels_fashion_cpu.json",
    experiment=lambda seed: experiments.fashion_retrieval(seed=seed),
)
def fashion_triplet(seed: int = 0, *, tiny: bool = False) -> dict[str, float]:
    """:func:`~companion.train.experiments.fashion_retrieval` with ``seed``: its scores by
    name, and ``train_seconds_cpu``."""
    cpu = time.process_time()
    budget = (
        {"train_images": 500, "gallery_images": 100, "epochs": 1, "eval_images": 500}
        if tiny
        else {}
    )
    scores = experiments.fashion_retrieval(seed=seed, **budget).scores
    return {**scores, "train_seconds_cpu": time.process_time() - cpu}
