"""companion.train.digits_experiment: the triplet chapter's digits experiment (its full run,
on a tiny budget, is tests/test_run_data.py's)."""

from __future__ import annotations

import torch

from companion.data.digits import load_digits
from companion.train.digits_experiment import DIGITS_ROLES, digits_data


def test_digits_data_is_the_data_set_s_split_for_every_seed() -> None:
    first = digits_data(0)
    assert set(first) == set(DIGITS_ROLES)
    for seed in (1, 2, 3):
        other = digits_data(seed)
        for name, (x, y) in first.items():
            assert torch.equal(other[name][0], x)
            assert torch.equal(other[name][1], y)
    for name, (x, y) in first.items():
        expected_x, expected_y = load_digits(name)
        assert torch.equal(x, expected_x)
        assert torch.equal(y, expected_y)
    n = {name: len(y) for name, (_, y) in first.items()}
    assert n["trainval"] == n["train"] + n["val"]
