"""No measured run trains on a validation or test image, whatever its seed (issue 25).

A run's seed used to choose the validation split as well as the training subset, so the
runs with seeds 1-3 trained on up to 1,722 of the 5,000 validation images. The splits are
now fixed by the data set; this test loads the images of every measured run for run seeds
0-3 and compares their *contents* (not indices) across roles.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from fashion_data import needs_fashion, skip_fashion

from companion.data import fashion_mnist
from companion.train import registry


def _rows(x: torch.Tensor) -> set[bytes]:
    """Each image's bytes, at the data's 8-bit (Fashion-MNIST) or 17-level (digits) grain."""
    return {r.numpy().tobytes() for r in (x * 255).round().to(torch.uint8).flatten(1)}


#: The roles no image may share: what a run trains on (before or after its choices) and
#: what it is scored on.
DISJOINT = (("train", "val"), ("train", "test"), ("val", "test"), ("final", "test"))


@pytest.mark.parametrize("name", registry.list_runs())
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_training_image_is_a_validation_or_test_image(name: str, seed: int) -> None:
    run = registry.get_run(name)
    if run.fashion_mnist and skip_fashion():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    data = run.data(seed)
    assert set(data) == set(run.roles), f"{name}: data and roles name other image sets"
    images: dict[str, set[bytes]] = {role: set() for role in registry.ROLES}
    for key, (x, _) in data.items():
        images[run.roles[key]] |= _rows(x)
    assert images["train"] | images["final"], f"{name} trains on no image"
    for a, b in DISJOINT:
        shared = images[a] & images[b]
        assert not shared, f"{name}, seed {seed}: {len(shared)} {a} images are {b} images"


@needs_fashion
def test_the_old_leak_is_what_this_catches() -> None:
    """Loaded as before the fix (the run seed as the split seed), the training subset of
    seed 1 shares images with the validation split: the comparison above can fail."""
    x_train, _ = fashion_mnist.load_fashion_mnist(
        "train", limit=20_000, split_seed=1, subset_seed=1
    )
    x_val, _ = fashion_mnist.load_fashion_mnist("val")
    assert len(_rows(x_train) & _rows(x_val)) > 1_000


RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _skip_without_fashion(run: registry.MeasuredRun) -> None:
    if run.fashion_mnist and skip_fashion():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")


@pytest.mark.parametrize("name", registry.list_runs())
def test_every_registered_run_on_a_tiny_budget(name: str) -> None:
    """Each run returns a frozen record whose fields are the keys of its stored rows."""
    run = registry.get_run(name)
    _skip_without_fashion(run)
    record = run.run(0, tiny=True)
    if dataclasses.is_dataclass(record):
        assert type(record).__dataclass_params__.frozen, f"{name}'s record is not frozen"
        keys = {f.name for f in dataclasses.fields(record)}
    else:  # fashion_triplet: some keys are not Python names
        keys = set(record)
    stored = json.loads((RESULTS / run.results).read_text())["runs"]
    rows = [r for r in stored if r["chapter"] == name]
    assert rows, f"{run.results} holds no row of {name}"
    for row in rows:
        assert set(row) - set(registry.METADATA) == keys


@pytest.mark.parametrize("name", registry.list_runs())
def test_stored_results_match_the_code_s_recipes(name: str) -> None:
    run = registry.get_run(name)
    rows = registry.stored_rows(name, RESULTS / run.results)
    assert all(r["recipes"] == run.digests() for r in rows)


def test_a_changed_recipe_makes_the_stored_result_fail_loudly(monkeypatch) -> None:
    """Changing a recipe without re-running its benchmark: the chapter's read fails, naming
    the run and the command that re-measures it."""
    run = registry.get_run("fashion_triplet")
    changed = {**run.recipes, "triplet": dataclasses.replace(run.recipes["triplet"], epochs=4)}
    monkeypatch.setitem(registry._RUNS, run.name, dataclasses.replace(run, recipes=changed))
    with pytest.raises(registry.StaleResultError) as info:
        registry.stored_rows("fashion_triplet", RESULTS / run.results)
    message = str(info.value)
    assert "run 'fashion_triplet'" in message
    assert "changed: triplet;" in message
    assert (
        "python benchmarks/bench_kernels.py --chapters fashion_triplet --merge --workers 1 "
        "--out benchmarks/results/kernels_fashion_cpu.json" in message
    )
