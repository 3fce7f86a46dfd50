"""companion.metric.alignment: Wang and Isola's alignment and uniformity against loops."""

from __future__ import annotations

import math

import pytest
import torch
from metric_references import tol

from companion.metric.alignment import alignment, uniformity

DTYPES = [torch.float32, torch.float64]


def _unit(rows: list[list[float]]) -> list[list[float]]:
    return [[a / math.sqrt(sum(b * b for b in r)) for a in r] for r in rows]


def naive_alignment(z1, z2, alpha) -> float:
    u, v = _unit(z1.tolist()), _unit(z2.tolist())
    dists = [
        math.sqrt(sum((a - b) ** 2 for a, b in zip(p, q, strict=True)))
        for p, q in zip(u, v, strict=True)
    ]
    return sum(d**alpha for d in dists) / len(dists)


def naive_uniformity(z, t) -> float:
    u = _unit(z.tolist())
    terms = [
        math.exp(-t * sum((a - b) ** 2 for a, b in zip(u[i], u[j], strict=True)))
        for i in range(len(u))
        for j in range(i + 1, len(u))
    ]
    return math.log(sum(terms) / len(terms))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0])
def test_alignment_matches_the_loop(dtype, alpha):
    g = torch.Generator().manual_seed(0)
    z1, z2 = (
        torch.randn(7, 4, generator=g, dtype=dtype),
        torch.randn(7, 4, generator=g, dtype=dtype),
    )
    want = torch.tensor(naive_alignment(z1, z2, alpha), dtype=dtype)
    torch.testing.assert_close(alignment(z1, z2, alpha=alpha), want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0.5, 2.0, 5.0])
def test_uniformity_matches_the_loop(dtype, t):
    z = torch.randn(9, 3, generator=torch.Generator().manual_seed(1), dtype=dtype)
    want = torch.tensor(naive_uniformity(z, t), dtype=dtype)
    torch.testing.assert_close(uniformity(z, t=t), want, **tol(dtype))


def test_uniformity_matches_wang_and_isola_s_pdist_formula():
    z = torch.nn.functional.normalize(torch.randn(20, 5, dtype=torch.float64), dim=1)
    want = torch.pdist(z, p=2).pow(2).mul(-2).exp().mean().log()
    torch.testing.assert_close(uniformity(z), want)


def test_a_collapsed_embedding_is_aligned_and_not_uniform():
    z = torch.ones(6, 3)
    assert alignment(z, 2 * z).item() == pytest.approx(0.0, abs=1e-6)
    assert uniformity(z).item() == pytest.approx(0.0, abs=1e-6)
    spread = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # antipodal: ‖u − v‖² = 4
    assert uniformity(spread, t=2).item() == pytest.approx(-8.0)


def test_the_gradients_are_finite():
    z = torch.randn(5, 3, requires_grad=True)
    (alignment(z, z.flip(0)) + uniformity(z)).backward()
    assert torch.isfinite(z.grad).all()


def test_errors_name_what_was_expected_and_what_came():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"z2 must have the shape of z1 \(4, 3\), got \(4, 2\)"):
        alignment(z, torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"z1 must be 2-D \(N, D\), got shape \(3,\)"):
        alignment(torch.randn(3), z)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0, got 0"):
        alignment(z, z, alpha=0)
    with pytest.raises(TypeError, match="z must be a floating-point tensor, got dtype torch.int64"):
        uniformity(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"z.shape\[0\] must be an int >= 2, got 1"):
        uniformity(torch.randn(1, 3))
    with pytest.raises(ValueError, match="t must be a finite number > 0, got -1"):
        uniformity(z, t=-1)
