"""companion.train.retrieval_runs: the triplet ablation's rows and its choice (each registered
run also runs on a tiny budget, and its images are checked, in tests/test_run_data.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from companion.train import recipes, registry, retrieval_runs
from companion.train.retrieval_runs import ABLATION_ROWS, choose_ablation_row

RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results"


def test_each_ablation_row_is_a_field_of_the_record():
    names = [f.name for f in dataclasses.fields(retrieval_runs.TripletAblation)]
    assert names == [*ABLATION_ROWS, "train_seconds_cpu"]
    assert all(name.isidentifier() for name in ABLATION_ROWS)
    for name, row in ABLATION_ROWS.items():
        assert row.recipe is recipes.TRIPLET_ABLATION[name]
        assert row.normalize == ("not normalised" not in row.label)
    assert list(ABLATION_ROWS) == list(recipes.TRIPLET_ABLATION)


def test_the_ablation_runs_record_their_recipes():
    run = registry.get_run("triplet_ablation")
    assert run.recipes == recipes.TRIPLET_ABLATION
    final = registry.get_run("triplet_ablation_final")
    chosen = ABLATION_ROWS[retrieval_runs.ABLATION_CHOSEN].recipe
    assert final.recipes == {"final": dataclasses.replace(chosen, epochs=10)}
    assert run.results == final.results == "kernels_triplet_ablation_cpu.json"


def _row(**scores: float) -> dict[str, float]:
    return {name: 0.5 for name in ABLATION_ROWS} | scores


def test_choose_ablation_row_takes_the_highest_mean():
    rows = [_row(hard_plain_sphere=1.0, soft_plain_raw=0.9), _row(soft_plain_raw=0.9)]
    assert choose_ablation_row(rows) == "soft_plain_raw"  # 0.9 against 0.75
    assert choose_ablation_row([_row()]) == "semihard_plain_sphere"  # a tie: the first row
    with pytest.raises(ValueError, match="rows must hold triplet_ablation rows, got none"):
        choose_ablation_row([])


def test_the_final_run_trains_the_row_the_stored_ablation_chose():
    """ABLATION_CHOSEN is what choose_ablation_row makes of the stored rows: a re-measured
    ablation that chooses another row fails here (and in the chapter) until the final run
    is changed and re-measured."""
    run = registry.get_run("triplet_ablation")
    rows = registry.stored_rows(run.name, RESULTS / run.results)
    assert choose_ablation_row(rows) == retrieval_runs.ABLATION_CHOSEN
    finals = registry.stored_rows("triplet_ablation_final", RESULTS / run.results)
    assert {r["chosen"] for r in finals} == {retrieval_runs.ABLATION_CHOSEN}
