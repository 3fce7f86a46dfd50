"""Estimating from samples: Monte Carlo (the law of large numbers, the central limit
theorem) and maximum likelihood.

================================  ===========================================================
:func:`empirical_cdf`             ``F_n(t) = #{i : x_i ≤ t} / n``
:func:`sample_mean_path`          running means ``x̄_n = (x_1 + ... + x_n) / n``
:func:`clt_standardized_means`    ``√n (x̄_n - μ) / σ`` per row (central limit theorem)
:func:`bernoulli_log_likelihood`  ``Σ_i x_i log p + (1 - x_i) log(1 - p)``
:func:`bernoulli_mle`             ``p̂ = x̄``
:func:`gaussian_mle`              ``μ̂ = x̄``, ``σ̂² = (1/n) Σ_i (x_i - x̄)²``
================================  ===========================================================
"""

from __future__ import annotations

import math

import torch

from companion.checks import check_floating, check_number

__all__ = [
    "bernoulli_log_likelihood",
    "bernoulli_mle",
    "clt_standardized_means",
    "empirical_cdf",
    "gaussian_mle",
    "sample_mean_path",
]


def empirical_cdf(samples: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Empirical CDF ``F_n(t) = #{i : x_i ≤ t} / n`` of 1-D ``samples`` at ``points``.

    Returns a tensor shaped like ``points``. ``F_n → F`` as ``n`` grows (Glivenko–Cantelli).

    Raises:
        TypeError: if an argument is not a floating-point tensor.
        ValueError: if ``samples`` is not 1-D and non-empty.
    """
    samples = check_floating("samples", samples)
    points = check_floating("points", points)
    if samples.ndim != 1 or samples.numel() == 0:
        raise ValueError(f"samples must be 1-D and non-empty, got shape {tuple(samples.shape)}")
    sorted_samples = torch.sort(samples).values
    counts = torch.searchsorted(sorted_samples, points.contiguous(), right=True)
    return counts.to(samples.dtype) / samples.numel()


def sample_mean_path(samples: torch.Tensor) -> torch.Tensor:
    """Running means along the first dimension: ``out[n-1] = (x_1 + ... + x_n) / n``.

    ``samples`` is ``(N, ...)``; the result has the same shape. The law of large numbers:
    ``out[n-1] → E[X]`` as ``n → ∞``.

    Raises:
        TypeError: if ``samples`` is not a floating-point tensor.
        ValueError: if ``samples`` is 0-d or empty.
    """
    samples = check_floating("samples", samples)
    if samples.ndim == 0 or samples.shape[0] == 0:
        raise ValueError(f"samples must be (N, ...) with N >= 1, got shape {tuple(samples.shape)}")
    N = samples.shape[0]
    counts = torch.arange(1, N + 1, dtype=samples.dtype, device=samples.device)  # (N,)
    counts = counts.reshape(N, *([1] * (samples.ndim - 1)))  # (N, 1, ..., 1)
    return torch.cumsum(samples, dim=0) / counts


def clt_standardized_means(samples: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Standardised sample means ``√n (x̄ - μ) / σ`` of each row of ``samples`` ``(R, n)``.

    Each of the ``R`` rows is ``n`` draws from one distribution with mean ``μ`` and standard
    deviation ``σ``; the result ``(R,)`` is approximately ``N(0, 1)`` for large ``n``
    whatever that distribution is (central limit theorem).

    Raises:
        TypeError: if ``samples`` is not a floating-point tensor, or ``std`` not a number.
        ValueError: if ``samples`` is not 2-D and non-empty, or ``std`` is not positive.
    """
    samples = check_floating("samples", samples)
    if samples.ndim != 2 or samples.numel() == 0:
        raise ValueError(f"samples must be 2-D (R, n) and non-empty, got {tuple(samples.shape)}")
    check_number("std", std, low=0, low_open=True)
    _R, n = samples.shape
    return math.sqrt(n) * (samples.mean(dim=1) - mean) / std


def _check_binary(x: object) -> torch.Tensor:
    x = check_floating("x", x)
    if x.ndim != 1 or x.numel() == 0:
        raise ValueError(f"x must be 1-D and non-empty, got shape {tuple(x.shape)}")
    if not ((x == 0) | (x == 1)).all():
        raise ValueError("x must hold only 0s and 1s (Bernoulli outcomes), got other values")
    return x


def bernoulli_log_likelihood(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Log-likelihood ``Σ_i x_i log p + (1 - x_i) log(1 - p)`` of 0/1 data ``x`` ``(n,)``.

    ``p`` may hold several candidate parameters, any shape ``(...)``; returns ``(...)``.

    Raises:
        TypeError: if ``x`` or ``p`` is not a floating-point tensor.
        ValueError: if ``x`` is not 1-D 0/1 data, or ``p`` is outside ``[0, 1]``.
    """
    x = _check_binary(x)
    p = check_floating("p", p)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p must lie in [0, 1], got values outside it")
    k = x.sum()  # number of ones
    n = x.numel()
    return torch.xlogy(k, p) + torch.xlogy(n - k, 1 - p)


def bernoulli_mle(x: torch.Tensor) -> torch.Tensor:
    """Maximum-likelihood ``p̂ = (1/n) Σ_i x_i`` for 0/1 data ``x`` ``(n,)``; a 0-d tensor.

    Setting ``d/dp [k log p + (n - k) log(1 - p)] = k/p - (n - k)/(1 - p)`` to 0 gives
    ``p̂ = k / n``.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor.
        ValueError: if ``x`` is not 1-D, non-empty 0/1 data.
    """
    return _check_binary(x).mean()


def gaussian_mle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood ``(μ̂, σ̂²)`` of a Gaussian from samples ``x`` ``(n,)``; two 0-d tensors.

    ``μ̂ = x̄`` and ``σ̂² = (1/n) Σ_i (x_i - x̄)²`` (divides by ``n``, not ``n - 1``: the
    maximum-likelihood variance is biased, ``E[σ̂²] = (n - 1)/n σ²``).

    Raises:
        TypeError: if ``x`` is not a floating-point tensor.
        ValueError: if ``x`` is not 1-D with at least one element.
    """
    x = check_floating("x", x)
    if x.ndim != 1 or x.numel() == 0:
        raise ValueError(f"x must be 1-D and non-empty, got shape {tuple(x.shape)}")
    mu = x.mean()
    return mu, ((x - mu) ** 2).mean()
