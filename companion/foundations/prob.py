"""Probability for the cheat-sheet: distributions, information, Bayes' rule.

Estimating from samples (Monte Carlo, maximum likelihood) is in
:mod:`companion.foundations.estimation`.

Every function takes and returns ``torch`` tensors (float32 or float64) and creates new
tensors on the device of its inputs. A categorical distribution over ``K`` outcomes is a
probability vector: the last dimension of a ``(..., K)`` tensor, non-negative, summing to 1.

================================  ==============================================================
:func:`entropy`                   ``H(p) = -Σ_k p_k log p_k``
:func:`cross_entropy`             ``H(p, q) = -Σ_k p_k log q_k``
:func:`kl_divergence`             ``KL(p‖q) = Σ_k p_k log(p_k / q_k) = H(p, q) - H(p)``
:func:`gaussian_log_pdf`          ``log N(x; μ, σ²) = -(x-μ)²/(2σ²) - ½ log(2πσ²)``
:func:`gaussian_pdf`              ``N(x; μ, σ²)``
:func:`gaussian_cdf`              ``Φ((x-μ)/σ) = ½ (1 + erf((x-μ)/(σ√2)))``
:func:`mvn_log_pdf`               ``log N(x; μ, Σ)`` for a ``d``-dimensional Gaussian
:func:`bayes_posterior`           ``P(h | e) = P(e | h) P(h) / Σ_h' P(e | h') P(h')``
:func:`softmax_with_temperature`  ``softmax(z / T)``
:func:`jensen_gap`                ``E[f(X)] − f(E[X])``, ``≥ 0`` for a convex ``f`` (Jensen)
================================  ==============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from companion.checks import check_floating, check_ndim, check_number, check_same_shape, check_shape
from companion.foundations.calculus import softmax

__all__ = [
    "bayes_posterior",
    "cross_entropy",
    "entropy",
    "gaussian_cdf",
    "gaussian_log_pdf",
    "gaussian_pdf",
    "jensen_gap",
    "kl_divergence",
    "mvn_log_pdf",
    "softmax_with_temperature",
]


# ---------------------------------------------------------------------------- checks


def _sum_tolerance(dtype: torch.dtype) -> float:
    return math.sqrt(torch.finfo(dtype).eps)  # 3e-4 in float32, 1.5e-8 in float64


def _check_probabilities(name: str, p: object) -> torch.Tensor:
    """``p`` is a ``(..., K)`` float tensor of probability vectors (last dimension)."""
    p = check_floating(name, p)
    if p.ndim == 0:
        raise ValueError(f"{name} must have at least 1 dimension (..., K), got a 0-d tensor")
    if (p < 0).any():
        raise ValueError(f"{name} must be non-negative, got a minimum of {p.min().item():.4g}")
    total = p.sum(dim=-1)
    worst = (total - 1).abs().max().item()
    if worst > _sum_tolerance(p.dtype):
        raise ValueError(
            f"{name} must sum to 1 along its last dimension, got sums off by up to {worst:.4g}"
        )
    return p


def _check_two_distributions(p: object, q: object) -> tuple[torch.Tensor, torch.Tensor]:
    """``p`` and ``q``: probability vectors of one shape ``(..., K)``."""
    p = _check_probabilities("p", p)
    q = _check_probabilities("q", q)
    return check_same_shape("p", p, "q", q), q


def _check_positive(name: str, value: float | torch.Tensor) -> None:
    if isinstance(value, torch.Tensor):
        if not (value > 0).all():
            raise ValueError(f"{name} must be positive, got a minimum of {value.min().item():.4g}")
    else:
        check_number(name, value, low=0, low_open=True)


# ---------------------------------------------------------------- information theory


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats of the categorical distributions ``p`` of shape ``(..., K)``.

    ``H(p) = -Σ_k p_k log p_k``, with ``0 log 0 = 0``. Returns shape ``(...)``.

    Raises:
        TypeError: if ``p`` is not a floating-point tensor.
        ValueError: if ``p`` is 0-d, has a negative entry or does not sum to 1.
    """
    p = _check_probabilities("p", p)
    return -torch.xlogy(p, p).sum(dim=-1)


def cross_entropy(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Cross-entropy in nats of ``q`` relative to ``p``, both ``(..., K)``; returns ``(...)``.

    ``H(p, q) = -Σ_k p_k log q_k``: the mean code length, in nats, of outcomes drawn from
    ``p`` but coded for ``q``. With ``p`` one-hot on class ``y`` it is ``-log q_y``, the
    classification loss. ``+inf`` where ``q_k = 0 < p_k``.

    Raises:
        TypeError: if ``p`` or ``q`` is not a floating-point tensor.
        ValueError: if either is not a probability vector, or their shapes differ.
    """
    p, q = _check_two_distributions(p, q)
    return -torch.xlogy(p, q).sum(dim=-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Kullback–Leibler divergence ``KL(p‖q)`` in nats, both ``(..., K)``; returns ``(...)``.

    ``KL(p‖q) = Σ_k p_k log(p_k / q_k) = H(p, q) - H(p) ≥ 0``, zero only when ``p = q``.

    Raises:
        TypeError: if ``p`` or ``q`` is not a floating-point tensor.
        ValueError: if either is not a probability vector, or their shapes differ.
    """
    p, q = _check_two_distributions(p, q)
    return (torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim=-1)


def jensen_gap(
    f: Callable[[torch.Tensor], torch.Tensor], values: torch.Tensor, probs: torch.Tensor
) -> torch.Tensor:
    """``E[f(X)] − f(E[X])`` for a discrete ``X``: ``values`` ``(K,)`` with ``probs`` ``(K,)``.

    Jensen's inequality: the gap is ``≥ 0`` for every convex ``f`` (``x²``, ``eˣ``,
    ``−log x``...) and ``≤ 0`` for every concave one; it is 0 when ``f`` is affine or ``X``
    is constant. With ``f(x) = x²`` it is ``Var[X]``. With ``f = −log`` and ``X = q_k/p_k``
    under ``p`` it gives Gibbs' inequality: ``KL(p‖q) = E_p[−log(q/p)] ≥ −log E_p[q/p] =
    −log Σ_k q_k ≥ 0``. Returns a 0-d tensor.

    Raises:
        TypeError: non-floating tensors.
        ValueError: ``probs`` not a probability vector, or shapes that differ.
    """
    probs = _check_probabilities("probs", probs)
    values = check_floating("values", values)
    if values.shape != probs.shape or values.ndim != 1:
        raise ValueError(
            f"values must have the shape of probs, (K,), got {tuple(values.shape)} and "
            f"{tuple(probs.shape)}"
        )
    mean = (probs * values).sum()
    return (probs * f(values)).sum() - f(mean)


def softmax_with_temperature(
    logits: torch.Tensor, temperature: float = 1.0, dim: int = -1
) -> torch.Tensor:
    """The categorical distribution ``softmax(z / T)`` along ``dim``; same shape as ``logits``.

    ``T → 0`` puts all the mass on the largest logit (argmax), ``T = 1`` is the plain
    softmax, ``T → ∞`` tends to the uniform distribution.

    Raises:
        TypeError: if ``logits`` is not a floating-point tensor or ``temperature`` not a number.
        ValueError: if ``temperature`` is not positive.
    """
    logits = check_floating("logits", logits)
    temperature = check_number("temperature", temperature, low=0, low_open=True)
    return softmax(logits / temperature, dim=dim)


# ------------------------------------------------------------------------- Gaussians


def _check_gaussian(
    x: torch.Tensor, variance: float | torch.Tensor
) -> tuple[torch.Tensor, float | torch.Tensor]:
    x = check_floating("x", x)
    _check_positive("variance", variance)
    return x, variance


def gaussian_log_pdf(
    x: torch.Tensor, mean: float | torch.Tensor = 0.0, variance: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Log-density of ``N(mean, variance)`` at ``x``; broadcasts like ``x - mean``.

    ``log N(x; μ, σ²) = -(x - μ)² / (2σ²) - ½ log(2π σ²)``.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor or ``variance`` not a number/tensor.
        ValueError: if ``variance`` is not positive.
    """
    x, variance = _check_gaussian(x, variance)
    var = torch.as_tensor(variance, dtype=x.dtype, device=x.device)
    return -((x - mean) ** 2) / (2 * var) - 0.5 * torch.log(2 * math.pi * var)


def gaussian_pdf(
    x: torch.Tensor, mean: float | torch.Tensor = 0.0, variance: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Density ``N(x; μ, σ²) = exp(-(x - μ)² / (2σ²)) / √(2π σ²)``; see :func:`gaussian_log_pdf`."""
    return gaussian_log_pdf(x, mean, variance).exp()


def gaussian_cdf(
    x: torch.Tensor, mean: float | torch.Tensor = 0.0, variance: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Cumulative distribution ``P(X ≤ x) = ½ (1 + erf((x - μ) / √(2σ²)))`` of ``N(μ, σ²)``.

    Raises:
        TypeError: if ``x`` is not a floating-point tensor or ``variance`` not a number/tensor.
        ValueError: if ``variance`` is not positive.
    """
    x, variance = _check_gaussian(x, variance)
    var = torch.as_tensor(variance, dtype=x.dtype, device=x.device)
    return 0.5 * (1 + torch.erf((x - mean) / torch.sqrt(2 * var)))


def mvn_log_pdf(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """Log-density of the ``d``-dimensional Gaussian ``N(mean, cov)`` at the rows of ``x``.

    ``log N(x; μ, Σ) = -½ (x - μ)ᵀ Σ⁻¹ (x - μ) - ½ log det(2π Σ)``, computed through the
    Cholesky factor ``Σ = L Lᵀ``: ``(x - μ)ᵀ Σ⁻¹ (x - μ) = ‖L⁻¹ (x - μ)‖²`` and
    ``log det Σ = 2 Σ_i log L_ii``.

    Args:
        x: ``(..., d)`` points.
        mean: ``(d,)`` mean.
        cov: ``(d, d)`` symmetric positive-definite covariance.

    Returns:
        ``(...)`` log-densities.

    Raises:
        TypeError: if an argument is not a floating-point tensor.
        ValueError: for mismatched shapes, or a ``cov`` that is not symmetric positive-definite.
    """
    x = check_floating("x", x)
    mean = check_floating("mean", mean)
    cov = check_floating("cov", cov)
    check_ndim("mean", mean, 1, "(d,)")
    (d,) = mean.shape
    check_shape("cov", cov, (d, d), "to match mean")
    if x.ndim == 0 or x.shape[-1] != d:
        raise ValueError(f"x must have shape (..., {d}) to match mean, got {tuple(x.shape)}")
    if not torch.allclose(cov, cov.mT):
        raise ValueError("cov must be symmetric, got cov != cov.T")
    L, info = torch.linalg.cholesky_ex(cov)
    if info.item() != 0:
        raise ValueError("cov must be positive-definite, got a matrix whose Cholesky failed")
    diff = (x - mean).unsqueeze(-1)  # (..., d, 1)
    z = torch.linalg.solve_triangular(L, diff, upper=False).squeeze(-1)  # (..., d)
    log_det = 2 * torch.log(torch.diagonal(L)).sum()
    return -0.5 * (z**2).sum(dim=-1) - 0.5 * (d * math.log(2 * math.pi) + log_det)


# -------------------------------------------------------------------------- Bayes


def bayes_posterior(prior: torch.Tensor, likelihood: torch.Tensor) -> torch.Tensor:
    """Posterior over ``K`` hypotheses after one piece of evidence ``e``; shape ``(..., K)``.

    ``P(h | e) = P(e | h) P(h) / P(e)`` with ``P(e) = Σ_h' P(e | h') P(h')``.

    Args:
        prior: ``(..., K)`` probability vectors ``P(h)``.
        likelihood: ``(..., K)`` values ``P(e | h)`` in ``[0, 1]`` (not a distribution
            over ``h``: they need not sum to 1).

    Raises:
        TypeError: if an argument is not a floating-point tensor.
        ValueError: if ``prior`` is not a probability vector, ``likelihood`` leaves
            ``[0, 1]``, the shapes differ, or ``P(e) = 0``.
    """
    prior = _check_probabilities("prior", prior)
    likelihood = check_floating("likelihood", likelihood)
    check_same_shape("prior", prior, "likelihood", likelihood)
    if ((likelihood < 0) | (likelihood > 1)).any():
        raise ValueError("likelihood must lie in [0, 1] (it holds P(e | h)), got values outside")
    joint = prior * likelihood  # (..., K): P(e, h)
    evidence = joint.sum(dim=-1, keepdim=True)  # (..., 1): P(e)
    if (evidence == 0).any():
        raise ValueError("the evidence must have positive probability, got P(e) = 0")
    return joint / evidence
