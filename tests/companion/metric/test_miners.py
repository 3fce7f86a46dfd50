"""companion.metric.miners: every mining strategy against a loop over all triplets."""

from __future__ import annotations

import pytest
import torch
from metric_references import make_batch, naive_triplets

from companion.metric.losses import (
    batch_hard_triplet_loss,
    mined_triplet_loss,
)
from companion.metric.miners import STRATEGIES, count_triplets, mine_triplets

DTYPES = [torch.float32, torch.float64]


# --- naive references --------------------------------------------------------------------


# --- mine_triplets -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("n", "classes"), [(10, 3), (13, 4)])
@pytest.mark.parametrize("squared", [False, True])
def test_mine_triplets_match_loop(dtype, strategy, n, classes, squared):
    x, y = make_batch(n, 3, classes, dtype, seed=n)
    margin = 1.0
    want, _ = naive_triplets(x, y, strategy, margin, squared)
    a, p, k = mine_triplets(x, y, strategy=strategy, margin=margin, squared=squared)
    assert a.dtype == p.dtype == k.dtype == torch.int64
    assert sorted(zip(a.tolist(), p.tolist(), k.tolist(), strict=True)) == sorted(want)
    assert len(want) > 0


@pytest.mark.parametrize(("classes", "per_class"), [(2, 2), (3, 4), (10, 4)])
def test_mine_all_counts_p_k_batch(classes, per_class):
    y = torch.arange(classes).repeat_interleave(per_class)
    x, _ = make_batch(len(y), 5, 2, torch.float32)
    a, _, _ = mine_triplets(x, y, strategy="all")
    assert len(a) == classes * per_class * (per_class - 1) * (classes - 1) * per_class
    h, _, _ = mine_triplets(x, y, strategy="hard")
    assert len(h) == classes * per_class


@pytest.mark.parametrize("dtype", DTYPES)
def test_count_triplets_matches_loop(dtype):
    x, y = make_batch(12, 3, 3, dtype, seed=14)
    counts = count_triplets(x, y, margin=1.0)
    assert list(counts) == list(STRATEGIES)
    for strategy in STRATEGIES:
        triplets, d = naive_triplets(x, y, strategy, 1.0, False)
        active = sum(d[a][p] - d[a][k] + 1.0 > 0 for a, p, k in triplets)
        assert counts[strategy] == (len(triplets), active)
    # semi-hard triplets all have a positive loss, by definition
    assert counts["semihard"][0] == counts["semihard"][1]


def test_mine_triplets_runs_without_gradient():
    x, y = make_batch(8, 3, 2, torch.float32)
    x.requires_grad_()
    for strategy in STRATEGIES:
        for idx in mine_triplets(x, y, strategy=strategy, margin=1.0):
            assert not idx.requires_grad


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_single_class_batch_has_no_triplets_and_zero_loss(strategy):
    x, _ = make_batch(6, 3, 1, torch.float32)
    y = torch.zeros(6, dtype=torch.int64)
    for idx in mine_triplets(x, y, strategy=strategy):
        assert idx.numel() == 0
    x.requires_grad_()
    loss = mined_triplet_loss(x, y, strategy=strategy)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_no_semihard_triplet_gives_zero_differentiable_loss():
    # Two tight, far-apart clusters: every negative is beyond d(a, p) + margin.
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    assert mine_triplets(x, y, strategy="semihard", margin=0.5)[0].numel() == 0
    for loss in (
        mined_triplet_loss(x, y, strategy="semihard", margin=0.5),
        batch_hard_triplet_loss(x, y, margin=0.5),
    ):
        assert loss.item() == 0.0
        loss.backward()
        assert torch.isfinite(x.grad).all()


def test_hard_skips_anchors_without_a_positive():
    x, _ = make_batch(5, 2, 2, torch.float64)
    y = torch.tensor([0, 0, 1, 1, 2])  # the class-2 image has no positive
    a, _, _ = mine_triplets(x, y, strategy="hard")
    assert a.tolist() == [0, 1, 2, 3]


def test_mine_triplets_errors():
    x = torch.zeros(4, 3)
    y = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        ValueError, match=r"labels must have shape \(4,\) \(one label per row\), got \(3,\)"
    ):
        mine_triplets(x, y[:3])
    with pytest.raises(ValueError, match=r"embeddings must be 2-D \(N, D\), got shape \(4,\)"):
        mine_triplets(torch.zeros(4), y)
    with pytest.raises(ValueError, match="margin must be a finite number >= 0, got -1"):
        mine_triplets(x, y, margin=-1)
    with pytest.raises(ValueError, match="strategy must be one of .*, got 'easy'"):
        mine_triplets(x, y, strategy="easy")
    with pytest.raises(TypeError, match="labels must be a torch.Tensor, got list"):
        mine_triplets(x, [0, 0, 1, 1])
