"""companion.foundations.dot_products: random dot products have the moments the chapter derives."""

from __future__ import annotations

import math
import re

import pytest
import torch

from companion.foundations import dot_products

DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    )


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------- dot-product variance


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("entries", dot_products.DOT_PRODUCT_ENTRIES)
def test_random_dot_products_have_the_moments_and_support_of_their_entries(dtype, entries):
    """Properties of q·k, not a replay of the draws: mean 0 and variance d, the support the
    entries allow, the same draws for the same seed, and a scaling by exactly 1/√d."""
    d, n = 16, 20_000
    got = dot_products.random_dot_products(d, n, generator=gen(20), entries=entries, dtype=dtype)
    assert got.shape == (n,)
    assert got.dtype == dtype
    x = got.double()
    # Mean 0 with standard error sqrt(d / n); variance d with standard error below
    # d·sqrt(8 / n) for all three entry laws (their fourth moments are at most 9/5·3).
    assert abs(x.mean().item()) < 5 * math.sqrt(d / n)
    assert abs(x.var().item() - d) < 5 * d * math.sqrt(8 / n)
    if entries == "rademacher":  # a sum of d terms ±1: an integer of d's parity in [-d, d]
        assert torch.equal(x, x.round())
        assert bool(((x + d) % 2 == 0).all())
        assert x.abs().max().item() <= d
    elif entries == "uniform":  # each |q_i k_i| <= √3·√3 = 3
        assert x.abs().max().item() <= 3 * d
    else:  # Gaussian: unbounded, so some of 20,000 draws pass 3 standard deviations
        assert (x.abs() > 3 * math.sqrt(d)).any()
    again = dot_products.random_dot_products(d, n, generator=gen(20), entries=entries, dtype=dtype)
    assert torch.equal(again, got)
    other = dot_products.random_dot_products(d, n, generator=gen(21), entries=entries, dtype=dtype)
    assert not torch.equal(other, got)
    scaled = dot_products.random_dot_products(
        d, n, generator=gen(20), entries=entries, dtype=dtype, scaled=True
    )
    torch.testing.assert_close(scaled, got / math.sqrt(d), **tol(dtype))


@pytest.mark.parametrize("d", [1, 8, 64])
@pytest.mark.parametrize("entries", dot_products.DOT_PRODUCT_ENTRIES)
def test_dot_product_variance_is_d(d, entries):
    n = 10_000
    var = dot_products.dot_product_variance_experiment(d, n, gen(21), entries=entries)
    # Gaussian entries: standard error d·sqrt(2/n) (a bit more for d = 1); allow 5 of them.
    assert abs(var - d) < 5 * d * math.sqrt(8 / n)
    scaled = dot_products.dot_product_variance_experiment(
        d, n, gen(21), entries=entries, scaled=True
    )
    assert scaled == pytest.approx(var / d, rel=1e-9)


# ----------------------------------------------------------------- error messages


def raises(exception: type[Exception], message: str):
    """``pytest.raises`` that matches ``message`` literally (no regex metacharacters)."""
    return pytest.raises(exception, match=re.escape(message))


def test_dot_product_errors():
    with raises(TypeError, "d must be an int, got float"):
        dot_products.random_dot_products(2.0, 10)
    with raises(ValueError, "n must be an int >= 1, got 0"):
        dot_products.random_dot_products(2, 0)
    with raises(
        ValueError, "entries must be one of 'gaussian', 'rademacher', 'uniform', got 'cauchy'"
    ):
        dot_products.random_dot_products(2, 10, entries="cauchy")
    with raises(ValueError, "n must be an int >= 2, got 1"):
        dot_products.dot_product_variance_experiment(4, 1)
