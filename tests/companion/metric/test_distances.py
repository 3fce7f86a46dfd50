"""companion.metric.distances: pairwise distances against a loop and torch.cdist."""

from __future__ import annotations

import pytest
import torch
from metric_references import make_batch, naive_distance, tol

from companion.metric.distances import pairwise_distances

DTYPES = [torch.float32, torch.float64]


# --- naive references --------------------------------------------------------------------


# --- pairwise_distances ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "m", "d"), [(5, 7, 3), (12, 1, 16)])
@pytest.mark.parametrize("squared", [False, True])
def test_pairwise_distances_match_loop_and_cdist(dtype, n, m, d, squared):
    x, _ = make_batch(n, d, 2, dtype, seed=1)
    y, _ = make_batch(m, d, 2, dtype, seed=2)
    got = pairwise_distances(x, y, squared=squared)
    want = torch.tensor(
        [[naive_distance(x[i], y[j], squared) for j in range(m)] for i in range(n)], dtype=dtype
    )
    assert got.shape == (n, m)
    assert got.dtype == dtype
    torch.testing.assert_close(got, want, **tol(dtype))
    if not squared:
        torch.testing.assert_close(got, torch.cdist(x, y), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distances_self_has_zero_diagonal_and_finite_gradient(dtype):
    x, _ = make_batch(6, 4, 2, dtype)
    x = torch.cat([x, x[:2]]).requires_grad_()  # two duplicated rows: distance exactly 0
    dist = pairwise_distances(x)
    assert torch.equal(dist.diagonal(), torch.zeros(8, dtype=dtype))
    torch.testing.assert_close(dist, dist.T)
    dist.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_distances_gradient_matches_cdist_away_from_zero(dtype):
    x, _ = make_batch(4, 3, 2, dtype, seed=3)
    y, _ = make_batch(5, 3, 2, dtype, seed=4)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    pairwise_distances(x1, y).sum().backward()
    torch.cdist(x2, y).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, **tol(dtype))


def test_pairwise_distances_errors():
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D\), got shape \(3,\)"):
        pairwise_distances(torch.zeros(3))
    with pytest.raises(ValueError, match=r"y must be 2-D \(N, D\), got shape \(1, 2, 3\)"):
        pairwise_distances(torch.zeros(3, 2), torch.zeros(1, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"y must have shape \(4, 2\) \(columns to match x \(3, 2\)\), got \(4, 3\)",
    ):
        pairwise_distances(torch.zeros(3, 2), torch.zeros(4, 3))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        pairwise_distances([[1.0]])
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        pairwise_distances(torch.zeros(3, 2, dtype=torch.int64))
