"""companion.train.experiments: the seen and unseen classes, and the images of the triplet
chapter's Fashion-MNIST experiment on a test's budget (the registered run's full images are
checked in tests/test_run_data.py, its shipped networks in test_weights.py)."""

from __future__ import annotations

import torch
from fashion_data import needs_fashion

from companion.train import experiments


def test_seen_and_unseen_classes_split_the_ten_classes() -> None:
    assert not set(experiments.SEEN) & set(experiments.UNSEEN)
    assert sorted(experiments.SEEN + experiments.UNSEEN) == list(range(10))


@needs_fashion
def test_fashion_retrieval_data_on_a_tiny_budget() -> None:
    data = experiments.fashion_retrieval_data(
        seed=0, train_images=100, gallery_images=50, eval_images=60
    )
    assert set(data) == set(experiments.FASHION_RETRIEVAL_ROLES)
    sizes = {name: len(labels) for name, (_, labels) in data.items()}
    assert sizes.pop("train") == 100
    assert sizes.pop("gallery") == 50
    assert set(sizes.values()) == {60}  # eval_images cuts every validation and test set
    for name in ("verify_unseen_val", "verify_unseen_test"):
        assert set(data[name][1].tolist()) == set(experiments.UNSEEN)
    other = experiments.fashion_retrieval_data(
        seed=1, train_images=100, gallery_images=50, eval_images=60
    )
    assert not torch.equal(data["train"][0], other["train"][0])  # the seed draws the subset
    for name in ("val", "test", "verify_val", "verify_unseen_test"):
        assert torch.equal(data[name][0], other[name][0])  # and never moves these


def test_fashion_retrieval_scores_every_representation() -> None:
    """The fair baselines (the classifier's features normalised, and at the embedding's
    dimension) are scored like the others: the shipped run records each of their scores."""
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
