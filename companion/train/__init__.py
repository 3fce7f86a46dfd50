"""Training: the loop, the recipes it takes, and the chapters' measured runs.

==========================  =============================================================
:mod:`.loop`                ``fit``, ``predict``, ``accuracy``, the ``History`` of a run,
                            and the reference recipes' weight-decay groups
:mod:`.recipe`              ``Recipe``, the one shape of a run's settings ``fit`` takes
:mod:`.recipes`             the chapters' recipes, as data (and ``train_on_digits``)
:mod:`.registry`            the registry of measured runs (``register_run``, ``stored_rows``)
:mod:`.experiments`         the triplet chapter's Fashion-MNIST experiment, and its images
:mod:`.digits_experiment`   the triplet chapter's digits experiment, and its images
:mod:`.weights`             the trained networks the course ships, with their provenance
:mod:`.retrieval_runs`      the triplet chapter's registered runs
:mod:`.vit_runs`            the Vision Transformer chapter's registered runs
:mod:`.open_set`            the capstone's open-set protocol: class splits, conditions
:mod:`.open_set_runs`       the capstone's registered runs
:mod:`.open_set_vit`        the capstone's ViT under the same protocol (registered)
:mod:`.data_efficiency`     the ViT chapter's runs by training-set size (registered)
:mod:`.training_runs`       the training chapter's registered run (warm-up or not)
:mod:`.simclr_runs`         SimCLR without labels, scored by probes (registered)
:mod:`.norm_placement`      pre-norm against post-norm on the digits, with or without warm-up
:mod:`.optim`               the update rules written out: SGD, momentum, Adam, AdamW, schedule
==========================  =============================================================
"""

from companion.train import (
    data_efficiency,
    digits_experiment,
    experiments,
    loop,
    norm_placement,
    open_set,
    open_set_runs,
    open_set_vit,
    optim,
    recipe,
    recipes,
    registry,
    retrieval_runs,
    simclr_runs,
    training_runs,
    vit_runs,
    weights,
)

__all__ = [
    "data_efficiency",
    "digits_experiment",
    "experiments",
    "loop",
    "norm_placement",
    "open_set",
    "open_set_runs",
    "open_set_vit",
    "optim",
    "recipe",
    "recipes",
    "registry",
    "retrieval_runs",
    "simclr_runs",
    "training_runs",
    "vit_runs",
    "weights",
]
