"""The training chapter's measured run, registered in :mod:`companion.train.registry`.

``warmup`` trains the post-norm ``TokenEncoder`` of :mod:`companion.train.norm_placement`
(:data:`~companion.train.norm_placement.POST_NORM`) twice with one seed: with
``recipes.POSTNORM_NO_WARMUP`` (cosine decay from the full rate of 1e-2) and with
``recipes.POSTNORM_WARMUP`` (the same after 2 epochs of linear warm-up). It returns a frozen
record whose field names are the keys of its rows in
``benchmarks/results/kernels_warmup_cpu.json``; the chapter claims that with warm-up the
network learns (validation accuracy >= 0.7) and without it does not (<= 0.4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from companion.data.digits import load_digits
from companion.train.norm_placement import POST_NORM, train_norm_placement
from companion.train.recipes import POSTNORM_NO_WARMUP, POSTNORM_WARMUP
from companion.train.registry import register_run

__all__ = ["WARMUP_ROLES", "WarmUp", "warmup", "warmup_data"]

#: The role of each image set of :func:`warmup_data`.
WARMUP_ROLES = {"train": "train", "val": "val"}


@dataclass(frozen=True)
class WarmUp:
    """Post-norm with one seed, without and with warm-up: the last epoch's validation
    accuracy in [0, 1] and the CPU seconds of each training."""

    no_warmup_val_accuracy: float
    warmup_val_accuracy: float
    no_warmup_seconds_cpu: float
    warmup_seconds_cpu: float


def warmup_data(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The digits splits the run uses (the data set's fixed split, whatever ``seed``): it
    trains on ``"train"`` and scores ``"val"``."""
    return {split: load_digits(split) for split in WARMUP_ROLES}


@register_run(
    "warmup",
    data=warmup_data,
    roles=WARMUP_ROLES,
    recipes={"no_warmup": POSTNORM_NO_WARMUP, "warmup": POSTNORM_WARMUP},
    results="kernels_warmup_cpu.json",
)
def warmup(seed: int = 0, *, tiny: bool = False) -> WarmUp:
    """Both arms of the warm-up experiment with ``seed`` (``tiny``: one epoch each, no
    warm-up: the tests' budget, never a stored number)."""
    warmup_data(seed)  # the digits loaded (and cached) before the clocks start
    scores: dict[str, float] = {}
    for arm, recipe in (("no_warmup", POSTNORM_NO_WARMUP), ("warmup", POSTNORM_WARMUP)):
        if tiny:
            recipe = replace(recipe, epochs=1, warmup_epochs=0)
        cpu = time.process_time()
        _, history = train_norm_placement(POST_NORM, recipe, seed=seed)
        scores[f"{arm}_seconds_cpu"] = time.process_time() - cpu
        scores[f"{arm}_val_accuracy"] = history.metrics["val_accuracy"][-1]
    return WarmUp(**scores)
