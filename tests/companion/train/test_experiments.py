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


def test_fashion_retrieval_scores_every_representation() -> None:
    """The fair baselines (the classifier's features normalised, and at the embedding's
    dimension) are scored like the others: the shipped run records each of their scores."""
    from companion.train import experiments
    from companion.train.weights import read_provenance

    assert experiments.FASHION_REPRESENTATIONS == (
        "pixels",
        "cnn",
        "cnn_norm",
        "cnn_pca",
        "triplet",
    )
    scores = read_provenance("fashion_triplet").scores
    for name in experiments.FASHION_REPRESENTATIONS:
        for key in ("test_recall", "test_1nn", "unseen_recall", "verify_map", "unseen_verify_map"):
            assert 0 <= scores[f"{name}_{key}"] <= 1
