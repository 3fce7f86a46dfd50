"""companion.foundations.estimation: Monte Carlo and likelihood helpers against loops and
formulas."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch.distributions import Bernoulli

from companion.foundations import estimation, prob

DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    )


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------- Monte Carlo


@pytest.mark.parametrize("dtype", DTYPES)
def test_empirical_cdf_matches_loop(dtype):
    samples = torch.randn(50, generator=gen(10), dtype=dtype)
    points = torch.cat([torch.linspace(-3, 3, 13, dtype=dtype), samples[:5]])
    got = estimation.empirical_cdf(samples, points)
    expected = torch.tensor([sum(float(s <= t) for s in samples) / 50 for t in points], dtype=dtype)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(20,), (15, 3)])
def test_sample_mean_path_matches_loop(dtype, shape):
    samples = torch.randn(shape, generator=gen(11), dtype=dtype)
    got = estimation.sample_mean_path(samples)
    expected = torch.stack([samples[: n + 1].mean(dim=0) for n in range(shape[0])])
    torch.testing.assert_close(got, expected, **tol(dtype))


def test_law_of_large_numbers():
    samples = torch.rand(200_000, generator=gen(12), dtype=torch.float64)
    assert abs(estimation.sample_mean_path(samples)[-1].item() - 0.5) < 0.005


@pytest.mark.parametrize("dtype", DTYPES)
def test_clt_standardized_means_matches_loop_and_is_standard_normal(dtype):
    samples = torch.rand(4000, 30, generator=gen(13), dtype=dtype)  # uniform: μ=1/2, σ²=1/12
    std = math.sqrt(1 / 12)
    got = estimation.clt_standardized_means(samples, 0.5, std)
    expected = torch.tensor(
        [math.sqrt(30) * (row.mean().item() - 0.5) / std for row in samples[:10]], dtype=dtype
    )
    torch.testing.assert_close(got[:10], expected, **tol(dtype))
    assert abs(got.mean().item()) < 0.06
    assert abs(got.std().item() - 1) < 0.05


# ----------------------------------------------------------------- maximum likelihood


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_log_likelihood_matches_distribution(dtype):
    x = (torch.rand(25, generator=gen(14)) < 0.3).to(dtype)
    p = torch.linspace(0.05, 0.95, 19, dtype=dtype)
    expected = torch.stack([Bernoulli(probs=pi).log_prob(x).sum() for pi in p])
    torch.testing.assert_close(estimation.bernoulli_log_likelihood(x, p), expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_mle_maximises_likelihood(dtype):
    x = (torch.rand(40, generator=gen(15)) < 0.7).to(dtype)
    p_hat = estimation.bernoulli_mle(x)
    torch.testing.assert_close(p_hat, x.sum() / 40)
    grid = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    best = grid[estimation.bernoulli_log_likelihood(x.double(), grid).argmax()]
    assert abs(best.item() - p_hat.item()) <= 0.005 + 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_mle_matches_formula_and_optimisation(dtype):
    x = 2.0 + 1.5 * torch.randn(200, generator=gen(16), dtype=dtype)
    mu, var = estimation.gaussian_mle(x)
    torch.testing.assert_close(mu, x.mean())
    torch.testing.assert_close(var, x.var(correction=0))
    # The MLE is a stationary point of the log-likelihood (zero gradient) and a maximum.
    params = torch.stack([mu, var]).double().requires_grad_(True)  # μ, σ²
    log_lik = prob.gaussian_log_pdf(x.double(), params[0], params[1]).sum()
    (grad,) = torch.autograd.grad(log_lik, params)
    torch.testing.assert_close(grad, torch.zeros(2, dtype=torch.float64), atol=1e-3, rtol=0)
    for d_mu, d_var in [(0.05, 0.0), (-0.05, 0.0), (0.0, 0.1), (0.0, -0.1)]:
        moved = prob.gaussian_log_pdf(x.double(), mu.item() + d_mu, var.item() + d_var).sum()
        assert moved.item() < log_lik.item()


# ----------------------------------------------------------------- error messages


def raises(exception: type[Exception], message: str):
    """``pytest.raises`` that matches ``message`` literally (no regex metacharacters)."""
    return pytest.raises(exception, match=re.escape(message))


def test_monte_carlo_errors():
    with raises(ValueError, "samples must be 1-D and non-empty, got shape (2, 2)"):
        estimation.empirical_cdf(torch.zeros(2, 2), torch.zeros(3))
    with raises(ValueError, "samples must be (N, ...) with N >= 1, got shape ()"):
        estimation.sample_mean_path(torch.tensor(1.0))
    with raises(ValueError, "samples must be 2-D (R, n) and non-empty, got (5,)"):
        estimation.clt_standardized_means(torch.zeros(5), 0.0, 1.0)
    with raises(ValueError, "std must be a finite number > 0, got 0.0"):
        estimation.clt_standardized_means(torch.zeros(2, 5), 0.0, 0.0)


def test_likelihood_errors():
    x = torch.tensor([0.0, 1.0, 1.0])
    with raises(ValueError, "x must hold only 0s and 1s (Bernoulli outcomes), got other values"):
        estimation.bernoulli_mle(torch.tensor([0.0, 0.5]))
    with raises(ValueError, "x must be 1-D and non-empty, got shape (0,)"):
        estimation.bernoulli_mle(torch.zeros(0))
    with raises(ValueError, "p must lie in [0, 1], got values outside it"):
        estimation.bernoulli_log_likelihood(x, torch.tensor([0.5, 1.5]))
    with raises(ValueError, "x must be 1-D and non-empty, got shape (2, 2)"):
        estimation.gaussian_mle(torch.zeros(2, 2))
