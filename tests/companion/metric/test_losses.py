"""companion.metric.losses: triplet losses against PyTorch and loops over the definitions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from metric_references import make_batch, naive_distance, naive_triplets, tol

from companion.metric.losses import (
    batch_hard_soft_margin_loss,
    batch_hard_triplet_loss,
    mined_triplet_loss,
    rho_push_loss,
    triplet_margin_loss,
)
from companion.metric.miners import STRATEGIES, mine_triplets

DTYPES = [torch.float32, torch.float64]


# --- naive references --------------------------------------------------------------------


# --- triplet_margin_loss -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "d"), [(1, 2), (9, 16)])
@pytest.mark.parametrize("margin", [0.2, 0.5, 1.0])  # PyTorch requires margin > 0
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_margin_loss_matches_pytorch(dtype, n, d, margin, reduction):
    a, _ = make_batch(n, d, 2, dtype, seed=5)
    p, _ = make_batch(n, d, 2, dtype, seed=6)
    k, _ = make_batch(n, d, 2, dtype, seed=7)
    got = triplet_margin_loss(a, p, k, margin=margin, reduction=reduction)
    want = F.triplet_margin_loss(a, p, k, margin=margin, p=2, reduction=reduction)
    # PyTorch measures ||a - p + 1e-6||: a shift of at most 1e-6 * sqrt(d) per distance.
    slack = 2e-6 * d**0.5 * (n if reduction == "sum" else 1)
    torch.testing.assert_close(got, want, rtol=tol(dtype)["rtol"], atol=slack)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
def test_triplet_margin_loss_matches_loop_and_backward(dtype, squared):
    a, _ = make_batch(6, 3, 2, dtype, seed=8)
    p, _ = make_batch(6, 3, 2, dtype, seed=9)
    k, _ = make_batch(6, 3, 2, dtype, seed=10)
    a.requires_grad_()
    got = triplet_margin_loss(a, p, k, margin=0.7, squared=squared, reduction="none")
    want = [
        max(naive_distance(a[i], p[i], squared) - naive_distance(a[i], k[i], squared) + 0.7, 0)
        for i in range(6)
    ]
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))
    got.mean().backward()
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_triplet_margin_loss_empty_batch_is_zero_and_differentiable(dtype):
    a = torch.zeros(0, 4, dtype=dtype, requires_grad=True)
    loss = triplet_margin_loss(a, a, a)
    assert loss.item() == 0.0
    loss.backward()
    assert a.grad.shape == (0, 4)


def test_triplet_margin_loss_gradient_is_finite_when_anchor_equals_positive():
    a = torch.ones(2, 3, requires_grad=True)
    loss = triplet_margin_loss(a, a.detach().clone(), torch.zeros(2, 3), margin=5.0)
    loss.backward()
    assert torch.isfinite(a.grad).all()


def test_triplet_margin_loss_errors():
    x = torch.zeros(4, 3)
    with pytest.raises(
        ValueError, match=r"negative must have the shape of anchor \(4, 3\), got \(5, 3\)"
    ):
        triplet_margin_loss(x, x, torch.zeros(5, 3))
    with pytest.raises(
        ValueError, match=r"positive must have the shape of anchor \(4, 3\), got \(4, 2\)"
    ):
        triplet_margin_loss(x, torch.zeros(4, 2), x)
    with pytest.raises(ValueError, match=r"anchor must be 2-D \(N, D\), got shape \(3,\)"):
        triplet_margin_loss(torch.zeros(3), x, x)
    with pytest.raises(ValueError, match="margin must be a finite number >= 0, got -0.1"):
        triplet_margin_loss(x, x, x, margin=-0.1)
    with pytest.raises(ValueError, match="reduction must be one of .*, got 'max'"):
        triplet_margin_loss(x, x, x, reduction="max")


# --- the mined losses --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("squared", [False, True])
def test_mined_triplet_loss_matches_loop(dtype, strategy, squared):
    x, y = make_batch(12, 4, 3, dtype, seed=11)
    margin = 0.8
    triplets, d = naive_triplets(x, y, strategy, margin, squared)
    want = sum(max(d[a][p] - d[a][k] + margin, 0) for a, p, k in triplets) / len(triplets)
    x.requires_grad_()
    got = mined_triplet_loss(x, y, strategy=strategy, margin=margin, squared=squared)
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))
    got.backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_loss_matches_triplet_margin_loss_on_mined_triplets(dtype):
    x, y = make_batch(16, 5, 4, dtype, seed=12)
    a, p, k = mine_triplets(x, y, strategy="hard")
    want = triplet_margin_loss(x[a], x[p], x[k], margin=0.3)
    got = batch_hard_triplet_loss(x, y, margin=0.3)
    torch.testing.assert_close(got, want, **tol(dtype))
    # and against the per-anchor formula of Hermans et al.
    d = torch.cdist(x, x)
    same = y[:, None] == y[None, :]
    losses = [
        max(d[i][same[i] & (torch.arange(16) != i)].max() - d[i][~same[i]].min() + 0.3, 0)
        for i in range(16)
        if (same[i].sum() > 1 and (~same[i]).any())
    ]
    torch.testing.assert_close(got, torch.stack(losses).mean(), **tol(dtype))


def test_mined_triplet_loss_errors():
    x = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        mined_triplet_loss(x, torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="strategy must be one of"):
        mined_triplet_loss(x, torch.zeros(4, dtype=torch.int64), strategy="hardest")
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        batch_hard_triplet_loss(x, torch.zeros(4, dtype=torch.int64), margin=-0.2)


def naive_soft_margin(x: torch.Tensor, y: torch.Tensor, squared: bool) -> torch.Tensor:
    """Hermans et al.'s batch-hard soft-margin loss, one anchor at a time, from the
    definition (differentiable: built from torch scalars)."""
    n = len(y)
    losses = []
    for a in range(n):
        dists = [((x[a] - x[j]) ** 2).sum() for j in range(n)]
        if not squared:
            dists = [dd.clamp_min(1e-300).sqrt() if dd > 0 else dd * 0 for dd in dists]
        pos = [dists[p] for p in range(n) if p != a and y[p] == y[a]]
        neg = [dists[k] for k in range(n) if y[k] != y[a]]
        if pos and neg:
            losses.append(F.softplus(torch.stack(pos).max() - torch.stack(neg).min()))
    return torch.stack(losses).mean() if losses else x.sum() * 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize(("n", "classes"), [(12, 3), (9, 4), (16, 5)])
def test_batch_hard_soft_margin_loss_matches_loop(dtype, squared, n, classes):
    x, y = make_batch(n, 4, classes, dtype, seed=n + classes)
    x.requires_grad_()
    got = batch_hard_soft_margin_loss(x, y, squared=squared)
    want = naive_soft_margin(x, y, squared)
    torch.testing.assert_close(got, want, **tol(dtype))
    (g_got,) = torch.autograd.grad(got, x)
    (g_want,) = torch.autograd.grad(want, x)
    torch.testing.assert_close(g_got, g_want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_soft_margin_loss_has_no_margin_and_pushes_easy_triplets(dtype):
    # two tight, far-apart classes: every triplet is easy, the loss small but not 0
    x = torch.tensor([[0.0, 0.0], [0.1, 0.0], [3.0, 0.0], [3.1, 0.0]], dtype=dtype)
    x.requires_grad_()
    y = torch.tensor([0, 0, 1, 1])
    got = batch_hard_soft_margin_loss(x, y)
    # anchors 0 and 3: 0.1 - 3.0; anchors 1 and 2: 0.1 - 2.9
    want = F.softplus(torch.tensor([-2.9, -2.8, -2.8, -2.9], dtype=dtype)).mean()
    torch.testing.assert_close(got, want, **tol(dtype))
    got.backward()
    assert x.grad.abs().sum() > 0  # the hinge with margin 0.2 would give no gradient here
    assert batch_hard_triplet_loss(x.detach(), y, margin=0.2).item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_hard_soft_margin_loss_no_valid_anchor_and_large_distances(dtype):
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=dtype)
    x.requires_grad_()
    loss = batch_hard_soft_margin_loss(x, torch.arange(5))  # no positives at all
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    far = torch.tensor([[0.0], [1e4], [0.0], [1e4]], dtype=dtype)
    swapped = batch_hard_soft_margin_loss(far, torch.tensor([0, 0, 1, 1]))  # wrong order
    assert torch.isfinite(swapped)
    torch.testing.assert_close(swapped, torch.tensor(1e4, dtype=dtype), **tol(dtype))


def test_batch_hard_soft_margin_loss_errors():
    with pytest.raises(ValueError, match=r"embeddings must be 2-D \(N, D\)"):
        batch_hard_soft_margin_loss(torch.zeros(4), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        batch_hard_soft_margin_loss(torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(
        TypeError, match="embeddings must be a floating-point tensor, got dtype torch.int64"
    ):
        batch_hard_soft_margin_loss(torch.zeros(4, 3, dtype=torch.int64), torch.zeros(4))


# --- ρ-regularisation --------------------------------------------------------------------


def naive_push(x: torch.Tensor, y: torch.Tensor, margin: float, squared: bool) -> float:
    """Mean over ordered same-class pairs (a, p), a ≠ p, of max(margin − d(a, p), 0)."""
    n = len(y)
    terms = [
        max(margin - naive_distance(x[a], x[p], squared), 0)
        for a in range(n)
        for p in range(n)
        if a != p and y[a] == y[p]
    ]
    return sum(terms) / len(terms) if terms else 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("squared", [False, True])
def test_rho_push_loss_matches_loop(dtype, squared):
    x, y = make_batch(12, 4, 3, dtype, seed=13)
    x = 0.3 * x  # some same-class pairs inside the margin, some outside
    x.requires_grad_()
    got = rho_push_loss(x, y, margin=0.8, squared=squared)
    want = naive_push(x, y, 0.8, squared)
    assert 0 < want
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))
    got.backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_rho_push_loss_pushes_a_class_apart(dtype):
    x, y = make_batch(8, 3, 2, dtype, seed=14)
    x = (0.05 * x).requires_grad_()
    rho_push_loss(x, y, margin=0.5).backward()
    step = x.detach() - 0.1 * x.grad
    same = (y[:, None] == y[None, :]) & ~torch.eye(8, dtype=torch.bool)
    assert torch.cdist(step, step)[same].mean() > torch.cdist(x, x)[same].mean()


def test_rho_push_loss_without_pairs_is_zero_and_differentiable():
    x = torch.randn(4, 3, requires_grad=True)
    loss = rho_push_loss(x, torch.arange(4))  # every image its own class
    assert loss.item() == 0
    loss.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("rho", [0.0, 0.2, 0.9])
def test_mined_triplet_loss_with_rho_mixes_the_mined_loss_and_the_push(dtype, strategy, rho):
    x, y = make_batch(12, 4, 3, dtype, seed=15)
    triplets, d = naive_triplets(x, y, strategy, 0.8, False)
    mined = sum(max(d[a][p] - d[a][k] + 0.8, 0) for a, p, k in triplets) / len(triplets)
    want = (1 - rho) * mined + rho * naive_push(x, y, 0.8, False)
    got = mined_triplet_loss(x, y, strategy=strategy, margin=0.8, rho=rho)
    torch.testing.assert_close(got, torch.tensor(want, dtype=dtype), **tol(dtype))


def test_rho_errors():
    x, y = torch.zeros(4, 3), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"rho must be a finite number in \[0, 1\), got 1"):
        mined_triplet_loss(x, y, rho=1)
    with pytest.raises(ValueError, match="rho must be a finite number"):
        mined_triplet_loss(x, y, rho=-0.1)
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        rho_push_loss(x, y, margin=-1.0)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        rho_push_loss(x, torch.zeros(3, dtype=torch.int64))
