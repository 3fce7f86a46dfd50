"""companion.train.training_runs: the training chapter's registered run (each registered run
also runs on a tiny budget, and its images are checked, in tests/test_run_data.py)."""

from __future__ import annotations

import dataclasses

from companion.data.digits import load_digits
from companion.train import recipes, registry, training_runs


def test_warmup_is_registered_with_its_recipes_and_file():
    run = registry.get_run("warmup")
    assert run.run is training_runs.warmup
    assert run.recipes == {
        "no_warmup": recipes.POSTNORM_NO_WARMUP,
        "warmup": recipes.POSTNORM_WARMUP,
    }
    assert run.results == "kernels_warmup_cpu.json"
    assert run.command() == (
        "python benchmarks/bench_kernels.py --chapters warmup --merge --workers 1 "
        "--out benchmarks/results/kernels_warmup_cpu.json"
    )


def test_warmup_record_names_both_arms():
    names = [f.name for f in dataclasses.fields(training_runs.WarmUp)]
    assert names == [
        "no_warmup_val_accuracy",
        "warmup_val_accuracy",
        "no_warmup_seconds_cpu",
        "warmup_seconds_cpu",
    ]
    assert training_runs.WarmUp.__dataclass_params__.frozen


def test_warmup_data_is_the_digits_train_and_val_splits():
    data = training_runs.warmup_data(seed=5)
    assert set(data) == set(training_runs.WARMUP_ROLES) == {"train", "val"}
    for split, (x, y) in data.items():
        x_ref, y_ref = load_digits(split)
        assert x.equal(x_ref)
        assert y.equal(y_ref)
