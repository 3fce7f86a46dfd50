"""companion.train.experiments: the open-set retrieval split."""

from __future__ import annotations

import re

import pytest


def test_open_set_retrieval_refuses_a_class_both_seen_and_unseen() -> None:
    from companion.train import experiments

    with pytest.raises(
        ValueError, match=re.escape("seen and unseen must not share a class, got [5]")
    ):
        experiments.open_set_retrieval(seen=(0, 5), unseen=(5, 6))
