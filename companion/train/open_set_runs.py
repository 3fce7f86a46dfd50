"""The capstone's measured runs, registered in :mod:`companion.train.registry`.

``open_set`` runs the open-set protocol (:func:`~companion.train.open_set.open_set_protocol`)
on every class split of :data:`~companion.train.open_set.CLASS_SPLITS` under both
conditions of :data:`~companion.train.open_set.CONDITIONS`, with one seed (the networks'
initial weights, the order of their batches, the training images and their random places);
``benchmarks/bench_kernels.py`` stores its rows in ``kernels_open_set_cpu.json``.
"""

from __future__ import annotations

import time

from companion.train.open_set import (
    CLASS_SPLITS,
    CONDITIONS,
    OPEN_SET_RUN_ROLES,
    open_set_protocol,
    open_set_run_data,
)
from companion.train.recipes import OPEN_SET_CLASSIFIER, OPEN_SET_TRIPLET
from companion.train.registry import register_run

__all__ = ["OPEN_SET_TINY", "open_set"]

#: A ``tiny`` run's budget (the tests'): training images per class, epochs, scored images.
OPEN_SET_TINY = {"images_per_class": 60, "epochs": 1, "eval_images": 60}


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
