"""companion.train.data_efficiency: the ViT chapter's data-efficiency runs (each registered
run also runs on a tiny budget, and its images are checked, in tests/test_run_data.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from companion.train import data_efficiency, recipes, registry


@pytest.mark.parametrize("n", data_efficiency.SIZES)
def test_each_size_is_registered_with_its_recipe_and_file(n: int) -> None:
    run = registry.get_run(data_efficiency.run_name(n))
    recipe = data_efficiency.recipe_for(n)
    assert run.recipes == {"vit": recipe, "cnn": recipe}
    assert run.results == "fashion_cpu.json"
    assert run.roles == {"final": "final", "test": "test"}
    assert run.fashion_mnist
    assert run.command() == (
        f"python benchmarks/bench_kernels.py --chapters fashion_size_{n} --merge --workers 1 "
        "--out benchmarks/results/fashion_cpu.json"
    )


def test_the_largest_size_is_the_full_recipe_on_every_image() -> None:
    assert data_efficiency.SIZES[-1] == data_efficiency.FULL_IMAGES == 60_000
    assert data_efficiency.recipe_for(60_000) == recipes.FASHION_FULL


def _epochs_by_hand(n: int, full: int, most: int) -> int:
    """The rule written out: the full recipe's steps spread over n, clipped."""
    passes = full * 60_000 / n
    if passes != int(passes):
        passes = int(passes) + 1
    return int(min(max(passes, full), max(most, full)))


@pytest.mark.parametrize("n", [1_000, 1_234, 5_000, 20_000, 36_000, 60_000])
@pytest.mark.parametrize(("full", "most"), [(30, 50), (3, 10), (10, 10)])
def test_epochs_for_matches_the_rule_by_hand(n: int, full: int, most: int) -> None:
    assert data_efficiency.epochs_for(n, full, most) == _epochs_by_hand(n, full, most)


def test_epochs_of_the_measured_sizes() -> None:
    # 30 passes over 60,000 images are 30 * 60 passes over 1,000: capped at 50
    assert [data_efficiency.epochs_for(n) for n in data_efficiency.SIZES] == [50, 50, 50, 30]
    assert data_efficiency.epochs_for(36_000) == math.ceil(30 * 60 / 36) == 50
    assert data_efficiency.epochs_for(45_000) == 40


def test_the_record_names_both_models() -> None:
    names = [f.name for f in dataclasses.fields(data_efficiency.DataEfficiency)]
    assert names[:3] == ["train_images", "epochs", "steps"]
    for model in ("vit", "cnn"):
        for key in ("parameters", "test", "test_flip_averaged", "loss", "seconds_cpu"):
            assert f"{model}_{key}" in names
    assert data_efficiency.DataEfficiency.__dataclass_params__.frozen


def test_zalando_rows_are_accuracies() -> None:
    assert data_efficiency.ZALANDO_ROWS["SVC (C=10, RBF kernel)"] == 0.897
    assert all(0 < v < 1 for v in data_efficiency.ZALANDO_ROWS.values())
