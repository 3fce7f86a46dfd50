"""The capstone's measured runs, registered in :mod:`companion.train.registry`.

``open_set`` runs the open-set protocol (:func:`~companion.train.open_set.open_set_protocol`)
on every class split of :data:`~companion.train.open_set.CLASS_SPLITS` under both
conditions of :data:`~companion.train.open_set.CONDITIONS`, with one seed (the networks'
initial weights, the order of their batches, the training images and their random places);
``benchmarks/bench_kernels.py`` stores its rows in ``kernels_open_set_cpu.json``.

``open_set_coverage`` measures a coverage curve, how far an embedding's reach depends on the
breadth of its training classes (:func:`coverage_splits`): three test classes and two
validation classes fixed by a random draw, and the networks trained on 2, 3, 4 and then 5
of the other classes, on aligned products, for each draw of :data:`COVERAGE_DRAWS`, with a
third network trained with Roth et al.'s (2020) ρ-regularisation (:data:`COVERAGE_RHO`)
beside the plain triplet network; its rows are stored in ``kernels_open_set_cpu.json`` too.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch

from companion.checks import check_choice, check_int
from companion.train.open_set import (
    CLASS_SPLITS,
    CONDITIONS,
    OPEN_SET_RUN_ROLES,
    ClassSplit,
    open_set_data,
    open_set_protocol,
    open_set_run_data,
)
from companion.train.recipes import OPEN_SET_CLASSIFIER, OPEN_SET_TRIPLET
from companion.train.registry import register_run

__all__ = [
    "COVERAGE_CONDITION",
    "COVERAGE_DRAWS",
    "COVERAGE_IMAGES_PER_CLASS",
    "COVERAGE_RHO",
    "COVERAGE_SIZES",
    "OPEN_SET_TINY",
    "chosen_on_validation",
    "coverage_data",
    "coverage_splits",
    "open_set",
    "open_set_coverage",
    "split_mean",
]

#: A ``tiny`` run's budget (the tests'): training images per class, epochs, scored images.
OPEN_SET_TINY = {"images_per_class": 43, "epochs": 1, "eval_images": 30}


@register_run(
    "open_set",
    data=open_set_run_data,
    roles=OPEN_SET_RUN_ROLES,
    fashion_mnist=True,
    recipes={"cnn": OPEN_SET_CLASSIFIER, "triplet": OPEN_SET_TRIPLET},
    results="kernels_open_set_cpu.json",
)
def open_set(seed: int = 0, *, tiny: bool = False) -> dict[str, float | list[float]]:
    """:func:`~companion.train.open_set.open_set_protocol` with ``seed`` on every split
    and condition: each score named ``"{split}_{condition}_{score}"``, and
    ``train_seconds_cpu``."""
    cpu = time.process_time()
    budget = OPEN_SET_TINY if tiny else {}
    out: dict[str, float | list[float]] = {}
    for split in CLASS_SPLITS:
        for condition in CONDITIONS.values():
            scores = open_set_protocol(split, condition, seed=seed, **budget)
            for key, value in scores.items():
                out[f"{split.name}_{condition.name}_{key}"] = value
    out["train_seconds_cpu"] = time.process_time() - cpu
    return out


#: The random draws of the coverage curve (generator seeds of the class order).
COVERAGE_DRAWS: tuple[int, ...] = (11, 12, 13)
#: The numbers of train classes along the curve.
COVERAGE_SIZES: tuple[int, ...] = (2, 3, 4, 5)
#: Training images per train class along the curve.
COVERAGE_IMAGES_PER_CLASS = 1_000


def coverage_splits(draw: int) -> list[ClassSplit]:
    """The class splits of one draw of the coverage curve: the ten classes shuffled by a
    generator seeded with ``draw``; the first three are the test classes and the next two
    the validation classes of every split; the train classes are the first ``n`` of the
    other five, for each ``n`` of :data:`COVERAGE_SIZES` (named ``"cover{draw}_{n}"``)."""
    check_int("draw", draw, low=0)
    order = torch.randperm(10, generator=torch.Generator().manual_seed(draw)).tolist()
    test, val, pool = tuple(sorted(order[:3])), tuple(sorted(order[3:5])), order[5:]
    return [
        ClassSplit(f"cover{draw}_{n}", tuple(sorted(pool[:n])), val, test) for n in COVERAGE_SIZES
    ]


#: The coverage curve's condition, aligned products, where the trained networks trail pixels
#: on new classes (the question is whether broader training closes that gap).
COVERAGE_CONDITION = "aligned"
#: The weight of ρ-regularisation on the curve (the default of Roth et al.'s code).
COVERAGE_RHO = 0.2


def coverage_data(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every image set of every split of the coverage curve, named ``"{split}_{set}"``
    (:func:`~companion.train.open_set.open_set_data`)."""
    return {
        f"{split.name}_{which}": images
        for draw in COVERAGE_DRAWS
        for split in coverage_splits(draw)
        for which, images in open_set_data(
            split, seed=seed, images_per_class=COVERAGE_IMAGES_PER_CLASS
        ).items()
    }


@register_run(
    "open_set_coverage",
    data=coverage_data,
    roles={
        f"{split.name}_{which}": role
        for draw in COVERAGE_DRAWS
        for split in coverage_splits(draw)
        for which, role in (("train", "train"), ("val", "val"), ("test", "test"), ("seen", "test"))
    },
    fashion_mnist=True,
    recipes={
        "cnn": OPEN_SET_CLASSIFIER,
        "triplet": OPEN_SET_TRIPLET,
        "triplet_rho": replace(OPEN_SET_TRIPLET, rho=COVERAGE_RHO),
    },
    results="kernels_open_set_cpu.json",
)
def open_set_coverage(seed: int = 0, *, tiny: bool = False) -> dict[str, float | list[float]]:
    """:func:`~companion.train.open_set.open_set_protocol` with ``seed`` and
    ``rho=COVERAGE_RHO`` on every split of every draw of the coverage curve, under
    :data:`COVERAGE_CONDITION`: each score named ``"{split}_{score}"``, and
    ``train_seconds_cpu``."""
    cpu = time.process_time()
    # a tiny run's two train classes still fill a batch of 128; 60 scored images split
    # evenly among 2, 3, 4 or 5 classes
    tiny_budget = {**OPEN_SET_TINY, "images_per_class": 64, "eval_images": 60}
    budget = tiny_budget if tiny else {"images_per_class": COVERAGE_IMAGES_PER_CLASS}
    condition = CONDITIONS[COVERAGE_CONDITION]
    out: dict[str, float | list[float]] = {}
    for draw in COVERAGE_DRAWS:
        for split in coverage_splits(draw):
            scores = open_set_protocol(split, condition, seed=seed, rho=COVERAGE_RHO, **budget)
            for key, value in scores.items():
                out[f"{split.name}_{key}"] = value
    out["train_seconds_cpu"] = time.process_time() - cpu
    return out


def split_mean(row: dict[str, object], condition: str, key: str) -> float:
    """``key`` (e.g. ``"triplet_test_r1"``) averaged over
    :data:`~companion.train.open_set.CLASS_SPLITS` in one stored
    ``open_set`` row, under ``condition``."""
    check_choice("condition", condition, tuple(CONDITIONS))
    values = [float(row[f"{split.name}_{condition}_{key}"]) for split in CLASS_SPLITS]
    return sum(values) / len(values)


def chosen_on_validation(
    rows: list[dict[str, object]], condition: str, candidates: tuple[str, ...]
) -> str:
    """The representation among ``candidates`` with the highest validation-class Recall@1,
    averaged over the splits and ``rows``: the protocol's way to pick "the best learned
    embedding" without looking at a test class (a tie goes to the first candidate).

    Raises:
        ValueError: if ``rows`` or ``candidates`` is empty.
    """
    if not rows:
        raise ValueError("rows must hold open_set rows, got none")
    if not candidates:
        raise ValueError("candidates must name at least one representation, got none")

    def score(rep: str) -> float:
        return sum(split_mean(r, condition, f"{rep}_val_r1") for r in rows) / len(rows)

    return max(candidates, key=score)  # max keeps the first of a tie
