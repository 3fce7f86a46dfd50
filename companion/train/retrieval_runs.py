"""The triplet chapter's measured runs, registered in :mod:`companion.train.registry`.

Each wraps the experiment the chapter runs (:mod:`companion.train.experiments`) and returns
what ``benchmarks/bench_kernels.py`` stores: a frozen record whose field names are the keys
of the rows of ``benchmarks/results/kernels_cpu.json`` (``triplet``); ``fashion_triplet``
returns its scores by name (``kernels_fashion_cpu.json``), as some of its keys
(``..._tar_at_far_0.001``) are not Python names. ``tiny`` trains one epoch on a few images,
for the tests only.

The chapter's ablation of FaceNet's and Hermans et al.'s choices is two runs and a choice
between them. ``triplet_ablation`` trains each row of :data:`ABLATION_ROWS` with one seed
and scores validation Recall@1 (the per-seed part); :func:`choose_ablation_row` takes the
row with the highest mean over the stored rows (every seed and kernel level); and
``triplet_ablation_final`` trains the row the code names, :data:`ABLATION_CHOSEN`, on train +
validation and scores the test split once. The chapter checks that
``choose_ablation_row`` of the stored rows is :data:`ABLATION_CHOSEN`, so a re-measured
ablation that chooses another row fails it until the final run is changed and re-measured.
Both are stored in ``kernels_triplet_ablation_cpu.json``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import torch

from companion.data.digits import load_digits
from companion.metric.retrieval import recall_at_k
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet
from companion.train import digits_experiment, experiments
from companion.train.loop import fit, predict
from companion.train.recipe import Recipe, seeded
from companion.train.recipes import (
    DIGITS_TRIPLET,
    DIGITS_TRIPLET_FINAL,
    DIGITS_TRIPLET_OPEN,
    DIGITS_TRIPLET_SHIFTED,
    RETRIEVAL_CNN,
    RETRIEVAL_TRIPLET,
    TRIPLET_ABLATION,
)
from companion.train.registry import register_run

__all__ = [
    "ABLATION_CHOSEN",
    "ABLATION_FINAL",
    "ABLATION_ROWS",
    "ABLATION_TINY_IMAGES",
    "AblationRow",
    "DigitsTriplet",
    "TripletAblation",
    "TripletAblationFinal",
    "choose_ablation_row",
    "digits_triplet",
    "fashion_triplet",
    "triplet_ablation",
    "triplet_ablation_final",
]


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


@dataclass(frozen=True)
class AblationRow:
    """One row of the triplet chapter's ablation: its label in the chapter's table, its
    recipe (``recipes.TRIPLET_ABLATION``) and whether the network puts its embeddings on the
    unit sphere (``EmbeddingConfig.normalize``)."""

    label: str
    recipe: Recipe
    normalize: bool


#: The ablation's rows, by the name of their field in :class:`TripletAblation` (the
#: chapter's first: semi-hard, a hinge, plain distances, on the sphere).
ABLATION_ROWS: dict[str, AblationRow] = {
    name: AblationRow(label, TRIPLET_ABLATION[name], normalize=name.endswith("_sphere"))
    for name, label in (
        ("semihard_plain_sphere", "semi-hard, hinge, plain d, sphere (the chapter's)"),
        ("semihard_squared_sphere", "semi-hard, hinge, squared d, sphere (FaceNet's)"),
        ("semihard_plain_raw", "semi-hard, hinge, plain d, not normalised"),
        ("hard_plain_sphere", "batch-hard, hinge, plain d, sphere"),
        ("soft_plain_sphere", "batch-hard, soft margin, plain d, sphere"),
        ("soft_squared_sphere", "batch-hard, soft margin, squared d, sphere"),
        ("soft_plain_raw", "batch-hard, soft margin, plain d, not normalised (Hermans et al.'s)"),
    )
}
#: The row the final fit trains, the one :func:`choose_ablation_row` chose from the stored
#: ``triplet_ablation`` rows (the chapter checks that it still does).
ABLATION_CHOSEN = "soft_plain_sphere"
#: The final fit's recipe, the chosen row's for the epochs of the chapter's final fit.
ABLATION_FINAL = replace(ABLATION_ROWS[ABLATION_CHOSEN].recipe, epochs=DIGITS_TRIPLET_FINAL.epochs)
#: Training images of a ``tiny`` ablation run (the tests' budget).
ABLATION_TINY_IMAGES = 256


def _train_embedding(
    row: AblationRow, recipe: Recipe, x: torch.Tensor, y: torch.Tensor, seed: int
) -> EmbeddingNet:
    """The chapter's digits ``EmbeddingNet`` (``D = 32``), trained with ``recipe``."""
    config = EmbeddingConfig(image_size=8, dim=32, normalize=row.normalize)
    model = seeded(lambda: EmbeddingNet(config), seed)
    fit(model, x, y, recipe, seed=seed, progress=False)
    return model


@dataclass(frozen=True)
class TripletAblation:
    """Each ablation row (:data:`ABLATION_ROWS`, one field per row, by its name) trained
    with one seed on the training split: validation Recall@1 in [0, 1]; CPU seconds of the
    run."""

    semihard_plain_sphere: float
    semihard_squared_sphere: float
    semihard_plain_raw: float
    hard_plain_sphere: float
    soft_plain_sphere: float
    soft_squared_sphere: float
    soft_plain_raw: float
    train_seconds_cpu: float


def _ablation_data(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return {split: load_digits(split) for split in ("train", "val")}


@register_run(
    "triplet_ablation",
    data=_ablation_data,
    roles={"train": "train", "val": "val"},
    recipes={name: row.recipe for name, row in ABLATION_ROWS.items()},
    results="kernels_triplet_ablation_cpu.json",
)
def triplet_ablation(seed: int = 0, *, tiny: bool = False) -> TripletAblation:
    """Every ablation row with ``seed`` (its initial weights and the order of its batches),
    scored by Recall@1 within the validation split (``tiny``: one epoch on
    :data:`ABLATION_TINY_IMAGES` training images, the tests' budget)."""
    cpu = time.process_time()
    (x, y), (x_val, y_val) = load_digits("train"), load_digits("val")
    if tiny:
        x, y = x[:ABLATION_TINY_IMAGES], y[:ABLATION_TINY_IMAGES]
    scores = {}
    for name, row in ABLATION_ROWS.items():
        recipe = replace(row.recipe, epochs=1, warmup_epochs=0) if tiny else row.recipe
        model = _train_embedding(row, recipe, x, y, seed)
        scores[name] = recall_at_k(predict(model, x_val), y_val, k=1)
    return TripletAblation(**scores, train_seconds_cpu=time.process_time() - cpu)


def choose_ablation_row(rows: Iterable[Mapping[str, object]]) -> str:
    """The name of the ablation row with the highest mean validation Recall@1 over
    ``rows`` (stored ``triplet_ablation`` rows: every seed and kernel level); a tie goes to
    the row listed first in :data:`ABLATION_ROWS`.

    Raises:
        ValueError: if ``rows`` is empty.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold triplet_ablation rows, got none")
    means = {name: statistics.fmean(float(r[name]) for r in rows) for name in ABLATION_ROWS}
    return max(ABLATION_ROWS, key=lambda name: means[name])  # max keeps the first of a tie


@dataclass(frozen=True)
class TripletAblationFinal:
    """The chosen ablation row (:data:`ABLATION_CHOSEN`) trained with one seed on train +
    validation: Recall@1 within the test split, scored once, in [0, 1]; CPU seconds."""

    chosen: str
    test_recall: float
    train_seconds_cpu: float


@register_run(
    "triplet_ablation_final",
    data=digits_experiment.digits_data,
    roles=digits_experiment.DIGITS_ROLES,
    recipes={"final": ABLATION_FINAL},
    results="kernels_triplet_ablation_cpu.json",
)
def triplet_ablation_final(seed: int = 0, *, tiny: bool = False) -> TripletAblationFinal:
    """:data:`ABLATION_FINAL` (the row :data:`ABLATION_CHOSEN`) with ``seed`` on train +
    validation, scored by Recall@1 within the test split (``tiny``: one epoch on
    :data:`ABLATION_TINY_IMAGES` images)."""
    cpu = time.process_time()
    (x, y), (x_test, y_test) = load_digits("trainval"), load_digits("test")
    recipe = ABLATION_FINAL
    if tiny:
        x, y = x[:ABLATION_TINY_IMAGES], y[:ABLATION_TINY_IMAGES]
        recipe = replace(recipe, epochs=1, warmup_epochs=0)
    model = _train_embedding(ABLATION_ROWS[ABLATION_CHOSEN], recipe, x, y, seed)
    test_recall = recall_at_k(predict(model, x_test), y_test, k=1)
    return TripletAblationFinal(ABLATION_CHOSEN, test_recall, time.process_time() - cpu)
