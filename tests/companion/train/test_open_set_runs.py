"""companion.train.open_set_runs: the capstone's registered run, its recipes and its result
file (its tiny budget and its images are run and checked in tests/test_run_data.py)."""

from __future__ import annotations

from companion.train import recipes, registry
from companion.train.open_set_runs import OPEN_SET_TINY


def test_the_open_set_run_records_both_networks_recipes() -> None:
    run = registry.get_run("open_set")
    assert run.recipes == {"cnn": recipes.OPEN_SET_CLASSIFIER, "triplet": recipes.OPEN_SET_TRIPLET}
    assert run.results == "kernels_open_set_cpu.json"
    assert run.fashion_mnist


def test_the_two_networks_have_the_same_budget_and_optimiser() -> None:
    cnn, triplet = recipes.OPEN_SET_CLASSIFIER, recipes.OPEN_SET_TRIPLET
    for field in ("epochs", "batch_size", "warmup_epochs", "weight_decay", "schedule", "flip"):
        assert getattr(cnn, field) == getattr(triplet, field), field
    assert cnn.label_smoothing == 0.0
    assert (triplet.loss, triplet.strategy) == ("triplet", "semihard")


def test_a_tiny_run_fills_full_batches() -> None:
    # The triplet loss needs full batches: the tiny budget's smallest training set fills one.
    assert OPEN_SET_TINY["images_per_class"] * 3 >= recipes.OPEN_SET_TRIPLET.batch_size
