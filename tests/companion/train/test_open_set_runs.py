"""companion.train.open_set_runs: the capstone's registered run, its recipes and its result
file (its tiny budget and its images are run and checked in tests/test_run_data.py)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from companion.train import recipes, registry
from companion.train.open_set import CLASS_SPLITS, CONDITIONS
from companion.train.open_set_runs import (
    COVERAGE_CONDITION,
    COVERAGE_DRAWS,
    COVERAGE_RHO,
    COVERAGE_SIZES,
    OPEN_SET_TINY,
    chosen_on_validation,
    coverage_splits,
    split_mean,
)


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


def _row(**scores: float) -> dict[str, float]:
    row = {}
    for split in CLASS_SPLITS:
        for rep in ("pixels", "cnn_norm", "triplet"):
            row[f"{split.name}_moving_{rep}_val_r1"] = scores.get(rep, 0.5)
            row[f"{split.name}_moving_{rep}_test_r1"] = 0.1
    return row


def test_split_mean_averages_over_the_splits() -> None:
    row = _row()
    row[f"{CLASS_SPLITS[0].name}_moving_triplet_val_r1"] = 0.9
    assert split_mean(row, "moving", "triplet_val_r1") == pytest.approx(
        (0.9 + 0.5 * (len(CLASS_SPLITS) - 1)) / len(CLASS_SPLITS)
    )
    with pytest.raises(ValueError, match="condition must be one of"):
        split_mean(row, "tilted", "triplet_val_r1")


def test_chosen_on_validation_reads_validation_scores_only() -> None:
    rows = [_row(triplet=0.8, cnn_norm=0.7), _row(triplet=0.6, cnn_norm=0.75)]
    assert chosen_on_validation(rows, "moving", ("cnn_norm", "triplet")) == "cnn_norm"
    assert chosen_on_validation([_row()], "moving", ("triplet", "cnn_norm")) == "triplet"
    with pytest.raises(ValueError, match="rows must hold open_set rows, got none"):
        chosen_on_validation([], "moving", ("triplet",))
    with pytest.raises(ValueError, match="candidates must name at least one"):
        chosen_on_validation(rows, "moving", ())


def test_coverage_splits_fix_the_test_and_validation_classes_and_grow_the_train_classes() -> None:
    for draw in COVERAGE_DRAWS:
        splits = coverage_splits(draw)
        assert [len(s.train) for s in splits] == list(COVERAGE_SIZES)
        assert len({s.test for s in splits}) == 1
        assert len({s.val for s in splits}) == 1
        for smaller, larger in itertools.pairwise(splits):
            assert set(smaller.train) < set(larger.train)
        assert coverage_splits(draw) == splits  # seeded
    assert len({coverage_splits(d)[0].test for d in COVERAGE_DRAWS}) == len(COVERAGE_DRAWS)
    with pytest.raises(ValueError, match="draw must be an int >= 0, got -1"):
        coverage_splits(-1)


def test_the_coverage_run_records_three_recipes_that_differ_only_in_rho() -> None:
    run = registry.get_run("open_set_coverage")
    assert run.recipes["cnn"] == recipes.OPEN_SET_CLASSIFIER
    assert run.recipes["triplet"] == recipes.OPEN_SET_TRIPLET
    assert run.recipes["triplet_rho"] == replace(recipes.OPEN_SET_TRIPLET, rho=COVERAGE_RHO)
    assert 0 < COVERAGE_RHO < 1
    assert COVERAGE_CONDITION in CONDITIONS
    assert run.results == "kernels_open_set_cpu.json"
    assert run.fashion_mnist
    # every split of every draw, each image set with its role
    names = {
        f"{s.name}_{w}"
        for d in COVERAGE_DRAWS
        for s in coverage_splits(d)
        for w in ("train", "val", "test", "seen")
    }
    assert set(run.roles) == names
    assert {run.roles[f"{s}_seen"] for s in (sp.name for sp in coverage_splits(11))} == {"test"}
