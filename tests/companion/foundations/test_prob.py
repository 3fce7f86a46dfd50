"""companion.foundations.prob: each function against torch.distributions, torch or a loop."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Categorical, MultivariateNormal, Normal

from companion.foundations import prob

DTYPES = [torch.float32, torch.float64]
SHAPES = [(5,), (3, 4), (2, 3, 6)]


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    )


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_probs(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    logits = torch.randn(shape, generator=gen(seed), dtype=torch.float64)
    return torch.softmax(logits, dim=-1).to(dtype)


# ---------------------------------------------------------------- information theory


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_entropy_matches_categorical(dtype, shape):
    p = random_probs(shape, dtype)
    torch.testing.assert_close(prob.entropy(p), Categorical(probs=p).entropy(), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_zero_probabilities_and_bounds(dtype):
    p = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], dtype=dtype)
    expected = torch.tensor([math.log(2), 0.0, math.log(3)], dtype=dtype)
    torch.testing.assert_close(prob.entropy(p), expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_matches_functional_on_logits(dtype, shape):
    logits = torch.randn(shape, generator=gen(1), dtype=dtype)
    p = random_probs(shape, dtype, seed=2)
    q = torch.softmax(logits, dim=-1)
    flat_logits = logits.reshape(-1, shape[-1])  # (N, K)
    flat_p = p.reshape(-1, shape[-1])  # (N, K)
    expected = F.cross_entropy(flat_logits, flat_p, reduction="none").reshape(shape[:-1])
    torch.testing.assert_close(prob.cross_entropy(p, q), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_one_hot_is_negative_log_likelihood(dtype):
    logits = torch.randn(6, 4, generator=gen(3), dtype=dtype)
    targets = torch.tensor([0, 3, 1, 2, 2, 0])
    one_hot = F.one_hot(targets, 4).to(dtype)
    got = prob.cross_entropy(one_hot, torch.softmax(logits, dim=-1))
    expected = F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(got, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_kl_divergence_matches_torch_and_identity(dtype, shape):
    p = random_probs(shape, dtype, seed=4)
    q = random_probs(shape, dtype, seed=5)
    expected = torch.distributions.kl_divergence(Categorical(probs=p), Categorical(probs=q))
    got = prob.kl_divergence(p, q)
    torch.testing.assert_close(got, expected, **tol(dtype))
    torch.testing.assert_close(got, prob.cross_entropy(p, q) - prob.entropy(p), **tol(dtype))
    assert (got >= 0).all()
    torch.testing.assert_close(prob.kl_divergence(p, p), torch.zeros(shape[:-1], dtype=dtype))


def test_kl_divergence_zero_in_q_is_infinite():
    p = torch.tensor([0.5, 0.5], dtype=torch.float64)
    q = torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert prob.kl_divergence(p, q).item() == math.inf
    assert prob.kl_divergence(q, p).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_with_temperature_matches_torch(dtype, temperature, dim):
    logits = torch.randn(4, 7, generator=gen(6), dtype=dtype)
    got = prob.softmax_with_temperature(logits, temperature, dim=dim)
    torch.testing.assert_close(got, torch.softmax(logits / temperature, dim=dim), **tol(dtype))


def test_softmax_with_temperature_limits():
    logits = torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64)
    cold = prob.softmax_with_temperature(logits, 1e-3)
    hot = prob.softmax_with_temperature(logits, 1e3)
    torch.testing.assert_close(cold, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(hot, torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-3, rtol=0)


# ------------------------------------------------------------------------- Gaussians


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("mean", "variance"), [(0.0, 1.0), (1.5, 0.25), (-2.0, 4.0)])
def test_gaussian_log_pdf_pdf_cdf_match_normal(dtype, mean, variance):
    x = torch.linspace(-5, 5, 41, dtype=dtype)
    normal = Normal(torch.tensor(mean, dtype=dtype), torch.tensor(math.sqrt(variance), dtype=dtype))
    torch.testing.assert_close(prob.gaussian_log_pdf(x, mean, variance), normal.log_prob(x))
    torch.testing.assert_close(prob.gaussian_pdf(x, mean, variance), normal.log_prob(x).exp())
    torch.testing.assert_close(prob.gaussian_cdf(x, mean, variance), normal.cdf(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_log_pdf_broadcasts_tensor_parameters(dtype):
    x = torch.randn(5, 1, generator=gen(7), dtype=dtype)
    mean = torch.tensor([0.0, 1.0, -1.0], dtype=dtype)
    variance = torch.tensor([1.0, 0.5, 2.0], dtype=dtype)
    got = prob.gaussian_log_pdf(x, mean, variance)
    assert got.shape == (5, 3)
    torch.testing.assert_close(got, Normal(mean, variance.sqrt()).log_prob(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("d", "batch"), [(1, (4,)), (3, (6,)), (5, (2, 3))])
def test_mvn_log_pdf_matches_multivariate_normal(dtype, d, batch):
    g = gen(8)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    cov = (a @ a.T + 0.5 * torch.eye(d, dtype=torch.float64)).to(dtype)
    mean = torch.randn(d, generator=g, dtype=dtype)
    x = torch.randn(*batch, d, generator=g, dtype=dtype)
    expected = MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)
    torch.testing.assert_close(prob.mvn_log_pdf(x, mean, cov), expected, rtol=1e-4, atol=1e-4)


def test_mvn_log_pdf_diagonal_is_sum_of_univariate():
    x = torch.randn(10, 3, generator=gen(9), dtype=torch.float64)
    variances = torch.tensor([0.5, 1.0, 3.0], dtype=torch.float64)
    mean = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    got = prob.mvn_log_pdf(x, mean, torch.diag(variances))
    expected = prob.gaussian_log_pdf(x, mean, variances).sum(dim=-1)
    torch.testing.assert_close(got, expected)


# -------------------------------------------------------------------------- Bayes


@pytest.mark.parametrize("dtype", DTYPES)
def test_bayes_posterior_disease_test(dtype):
    prior = torch.tensor([0.01, 0.99], dtype=dtype)  # ill, healthy
    likelihood = torch.tensor([0.95, 0.05], dtype=dtype)  # P(positive | ill), P(positive | healthy)
    posterior = prob.bayes_posterior(prior, likelihood)
    expected = 0.95 * 0.01 / (0.95 * 0.01 + 0.05 * 0.99)
    assert posterior[0].item() == pytest.approx(expected, rel=1e-6)
    assert posterior.sum().item() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bayes_posterior_matches_loop_and_sequential_updates(dtype):
    prior = random_probs((3, 5), dtype, seed=17)
    likelihood = torch.rand(3, 5, generator=gen(18), dtype=dtype)
    got = prob.bayes_posterior(prior, likelihood)
    expected = torch.zeros_like(prior)
    for i in range(3):
        evidence = sum(prior[i, j] * likelihood[i, j] for j in range(5))
        for j in range(5):
            expected[i, j] = prior[i, j] * likelihood[i, j] / evidence
    torch.testing.assert_close(got, expected, **tol(dtype))
    # Two updates in a row equal one update with the product of the likelihoods.
    other = torch.rand(3, 5, generator=gen(19), dtype=dtype)
    twice = prob.bayes_posterior(got, other)
    torch.testing.assert_close(twice, prob.bayes_posterior(prior, likelihood * other), **tol(dtype))


# ----------------------------------------------------------------- error messages


def raises(exception: type[Exception], message: str):
    """``pytest.raises`` that matches ``message`` literally (no regex metacharacters)."""
    return pytest.raises(exception, match=re.escape(message))


def test_probability_checks():
    good = torch.tensor([0.5, 0.5])
    with raises(TypeError, "p must be a torch.Tensor, got list"):
        prob.entropy([0.5, 0.5])
    with raises(TypeError, "p must be a floating-point tensor, got dtype torch.int64"):
        prob.entropy(torch.tensor([1, 0]))
    with raises(ValueError, "p must have at least 1 dimension (..., K), got a 0-d tensor"):
        prob.entropy(torch.tensor(1.0))
    with raises(ValueError, "p must be non-negative, got a minimum of -0.5"):
        prob.entropy(torch.tensor([1.5, -0.5]))
    with raises(ValueError, "q must sum to 1 along its last dimension, got sums off by up to 0.1"):
        prob.cross_entropy(good, torch.tensor([0.5, 0.6]))
    with raises(ValueError, "p must have the shape of q (3,), got (2,)"):
        prob.kl_divergence(good, torch.tensor([0.2, 0.3, 0.5]))


def test_softmax_with_temperature_errors():
    logits = torch.zeros(3)
    with raises(TypeError, "logits must be a floating-point tensor, got dtype torch.int64"):
        prob.softmax_with_temperature(torch.zeros(3, dtype=torch.int64))
    with raises(TypeError, "temperature must be a number, got Tensor"):
        prob.softmax_with_temperature(logits, torch.tensor(1.0))
    with raises(ValueError, "temperature must be a finite number > 0, got 0.0"):
        prob.softmax_with_temperature(logits, 0.0)
    with raises(ValueError, "temperature must be a finite number > 0, got -1"):
        prob.softmax_with_temperature(logits, -1)


def test_gaussian_errors():
    x = torch.zeros(3)
    with raises(ValueError, "variance must be a finite number > 0, got 0.0"):
        prob.gaussian_log_pdf(x, 0.0, 0.0)
    with raises(ValueError, "variance must be positive, got a minimum of -1"):
        prob.gaussian_cdf(x, 0.0, torch.tensor([1.0, -1.0, 1.0]))
    with raises(TypeError, "variance must be a number, got str"):
        prob.gaussian_pdf(x, 0.0, "1")
    with raises(TypeError, "x must be a torch.Tensor, got float"):
        prob.gaussian_pdf(0.5)


def test_mvn_errors():
    mean = torch.zeros(2)
    cov = torch.eye(2)
    with raises(TypeError, "cov must be a floating-point tensor, got dtype torch.int64"):
        prob.mvn_log_pdf(torch.zeros(2), mean, torch.eye(2, dtype=torch.int64))
    with raises(ValueError, "mean must be 1-D (d,), got shape (1, 2)"):
        prob.mvn_log_pdf(torch.zeros(2), mean[None], cov)
    with raises(ValueError, "cov must have shape (2, 2) to match mean, got (3, 3)"):
        prob.mvn_log_pdf(torch.zeros(2), mean, torch.eye(3))
    with raises(ValueError, "x must have shape (..., 2) to match mean, got (4, 3)"):
        prob.mvn_log_pdf(torch.zeros(4, 3), mean, cov)
    with raises(ValueError, "cov must be symmetric, got cov != cov.T"):
        prob.mvn_log_pdf(torch.zeros(2), mean, torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with raises(ValueError, "cov must be positive-definite, got a matrix whose Cholesky failed"):
        prob.mvn_log_pdf(torch.zeros(2), mean, torch.tensor([[1.0, 2.0], [2.0, 1.0]]))


def test_bayes_errors():
    prior = torch.tensor([0.5, 0.5])
    with raises(ValueError, "prior must sum to 1 along its last dimension"):
        prob.bayes_posterior(torch.tensor([0.5, 0.6]), torch.tensor([0.1, 0.2]))
    with raises(ValueError, "prior must have the shape of likelihood (3,), got (2,)"):
        prob.bayes_posterior(prior, torch.tensor([0.1, 0.2, 0.3]))
    with raises(
        ValueError, "likelihood must lie in [0, 1] (it holds P(e | h)), got values outside"
    ):
        prob.bayes_posterior(prior, torch.tensor([0.1, 1.2]))
    with raises(ValueError, "the evidence must have positive probability, got P(e) = 0"):
        prob.bayes_posterior(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.7]))


@pytest.mark.parametrize(
    ("f", "sign"),
    [
        (torch.square, 1),
        (torch.exp, 1),
        (lambda x: -torch.log(x), 1),
        (torch.log, -1),
        (torch.sqrt, -1),
        (lambda x: 3 * x - 1, 0),
    ],
)
def test_jensen_gap_has_the_sign_of_the_curvature(f, sign):
    g = torch.Generator().manual_seed(4)
    for _ in range(20):
        values = torch.rand(6, generator=g, dtype=torch.float64) * 5 + 0.1
        probs = torch.softmax(torch.randn(6, generator=g, dtype=torch.float64), dim=0)
        gap = prob.jensen_gap(f, values, probs)
        if sign == 0:
            assert abs(gap) < 1e-12
        else:
            assert sign * gap > 0


def test_jensen_gap_of_the_square_is_the_variance():
    values = torch.tensor([1.0, 2.0, 6.0], dtype=torch.float64)
    probs = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    mean = (probs * values).sum()
    torch.testing.assert_close(
        prob.jensen_gap(torch.square, values, probs), (probs * (values - mean) ** 2).sum()
    )
    assert prob.jensen_gap(torch.exp, torch.full((3,), 2.0, dtype=torch.float64), probs) == 0


def test_gibbs_inequality_from_jensen():
    p = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    q = torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64)
    # KL(p||q) = E_p[-log(q/p)] = Jensen gap of -log at X = q/p, since E_p[q/p] = 1
    gap = prob.jensen_gap(lambda x: -torch.log(x), q / p, p)
    kl = torch.distributions.kl_divergence(Categorical(probs=p), Categorical(probs=q))
    torch.testing.assert_close(gap, kl)
    assert gap > 0


def test_jensen_gap_errors():
    with pytest.raises(ValueError, match="values must have the shape of probs"):
        prob.jensen_gap(torch.exp, torch.ones(2), torch.tensor([0.5, 0.25, 0.25]))
    with pytest.raises(TypeError, match="values must be a floating-point tensor"):
        prob.jensen_gap(torch.exp, torch.ones(3, dtype=torch.int64), torch.full((3,), 1 / 3))
