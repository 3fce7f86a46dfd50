"""companion.train.experiments: the verification protocol and the open-set retrieval split."""

from __future__ import annotations

import re

import pytest
import torch

from companion.metric.verification import (
    balanced_pairs,
    best_threshold,
    mean_average_precision,
    pair_scores,
    roc_curve,
    tar_at_far,
)


def test_verification_protocol_chooses_the_threshold_on_validation():
    from companion.train.experiments import VERIFICATION_FARS, verification_protocol

    g = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat_interleave(8)
    centres = 3 * torch.randn(5, 4, generator=g)

    def emb() -> torch.Tensor:
        return centres[labels] + 0.5 * torch.randn(40, 4, generator=g)

    val, test = emb(), emb()
    scores = verification_protocol(val, labels, test, labels)
    val_d, val_same = pair_scores(val, labels)
    keep = balanced_pairs(val_same, generator=torch.Generator().manual_seed(0))
    assert scores["threshold"] == best_threshold(val_d[keep], val_same[keep])
    assert scores["test_accuracy"] <= scores["test_best_accuracy"]
    far, tar, _ = roc_curve(*pair_scores(test, labels))
    for target in VERIFICATION_FARS:
        assert scores[f"tar_at_far_{target:g}"] == tar_at_far(far, tar, target)
    assert scores["map"] == mean_average_precision(test, labels)


def test_open_set_retrieval_refuses_a_class_both_seen_and_unseen() -> None:
    from companion.train import experiments

    with pytest.raises(
        ValueError, match=re.escape("seen and unseen must not share a class, got [5]")
    ):
        experiments.open_set_retrieval(seen=(0, 5), unseen=(5, 6))
