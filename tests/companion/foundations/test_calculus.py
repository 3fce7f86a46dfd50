"""companion.foundations.calculus: each function against its PyTorch twin (or a naive loop)."""

from __future__ import annotations

import math

import pytest
import torch

from companion.foundations import calculus as calc

# Forward-mode AD (jacfwd, torch.func.hessian) loads decompositions through torch.jit.script,
# which warns on this torch version: not our code.
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")

DTYPES = [torch.float32, torch.float64]
SHAPES_DIMS = [((5,), -1), ((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -3)]


def tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    )


def randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- softmax and friends


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim"), SHAPES_DIMS)
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_softmax_family_matches_torch(dtype, shape, dim, scale):
    x = randn(*shape, dtype=dtype) * scale
    torch.testing.assert_close(calc.softmax(x, dim), torch.softmax(x, dim), **tol(dtype))
    torch.testing.assert_close(calc.log_softmax(x, dim), torch.log_softmax(x, dim), **tol(dtype))
    for keepdim in (False, True):
        torch.testing.assert_close(
            calc.logsumexp(x, dim, keepdim=keepdim),
            torch.logsumexp(x, dim, keepdim=keepdim),
            **tol(dtype),
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_inputs_stay_finite_where_naive_overflows(dtype):
    x = torch.tensor([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]], dtype=dtype)
    assert torch.isfinite(calc.softmax(x)).all()
    assert torch.isfinite(calc.log_softmax(x)).all()
    torch.testing.assert_close(calc.logsumexp(x), torch.logsumexp(x, -1), **tol(dtype))
    torch.testing.assert_close(calc.softmax(x), torch.softmax(x, -1), **tol(dtype))
    assert torch.isnan(calc.naive_softmax(x)).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_minus_inf_entries_match_torch(dtype):
    inf = float("inf")
    x = torch.tensor([[0.0, -inf, 1.0], [-inf, -inf, -inf]], dtype=dtype)
    torch.testing.assert_close(calc.logsumexp(x), torch.logsumexp(x, -1), equal_nan=True)
    torch.testing.assert_close(calc.softmax(x[:1]), torch.softmax(x[:1], -1))
    torch.testing.assert_close(calc.log_softmax(x[:1]), torch.log_softmax(x[:1], -1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim"), SHAPES_DIMS)
def test_naive_softmax_agrees_on_small_inputs(dtype, shape, dim):
    x = randn(*shape, dtype=dtype)
    torch.testing.assert_close(calc.naive_softmax(x, dim), torch.softmax(x, dim), **tol(dtype))


@pytest.mark.parametrize("fn", [calc.softmax, calc.log_softmax, calc.logsumexp, calc.naive_softmax])
def test_softmax_family_bad_input(fn):
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        fn([1.0, 2.0])
    with pytest.raises(TypeError, match="floating-point tensor"):
        fn(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="at least one dimension"):
        fn(torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"dim must be in \[-2, 2\)"):
        fn(torch.zeros(2, 3), 2)
    with pytest.raises(TypeError, match="dim must be an int"):
        fn(torch.zeros(2, 3), 1.0)


# ---------------------------------------------------------------- softmax Jacobian


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 5])
def test_softmax_jacobian_matches_autograd(dtype, n):
    x = randn(n, dtype=dtype) * 3
    expected = torch.func.jacrev(lambda z: torch.softmax(z, -1))(x)
    torch.testing.assert_close(calc.softmax_jacobian(x), expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(3,), (2, 3)])
def test_softmax_jacobian_batched(dtype, batch):
    x = randn(*batch, 4, dtype=dtype)
    jac = calc.softmax_jacobian(x)
    assert jac.shape == (*batch, 4, 4)
    flat = x.reshape(-1, 4)
    expected = torch.func.vmap(torch.func.jacfwd(lambda z: torch.softmax(z, -1)))(flat)
    torch.testing.assert_close(jac.reshape(-1, 4, 4), expected, **tol(dtype))
    torch.testing.assert_close(jac.sum(-1), torch.zeros_like(x), **tol(dtype))  # rows sum to 0
    torch.testing.assert_close(jac, jac.transpose(-1, -2))  # symmetric


def test_softmax_jacobian_bad_input():
    with pytest.raises(TypeError, match="floating-point tensor"):
        calc.softmax_jacobian(torch.arange(3))
    with pytest.raises(ValueError, match="at least one dimension"):
        calc.softmax_jacobian(torch.tensor(0.5))


# ---------------------------------------------------------------- Taylor


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_taylor_polynomial_of_sin_matches_closed_form(dtype, order):
    a = 0.7
    x = torch.linspace(-1, 2, 11, dtype=dtype)
    derivs = [math.sin(a), math.cos(a), -math.sin(a), -math.cos(a)]
    expected = sum(derivs[k % 4] * (x - a) ** k / math.factorial(k) for k in range(order + 1))
    got = calc.taylor_polynomial(torch.sin, a, x, order=order)
    assert got.shape == x.shape
    assert got.dtype == dtype
    torch.testing.assert_close(got, expected, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_taylor_polynomial_is_exact_for_polynomials(dtype):
    f = lambda t: 2 * t**2 - t + 3  # noqa: E731
    x = randn(7, dtype=dtype)
    for order in (2, 4):  # beyond the degree the extra derivatives are 0
        torch.testing.assert_close(
            calc.taylor_polynomial(f, -1.5, x, order=order), f(x), **tol(dtype)
        )
    torch.testing.assert_close(
        calc.taylor_polynomial(lambda t: torch.ones_like(t), 0.0, x, order=3), torch.ones_like(x)
    )


def test_taylor_polynomial_bad_input():
    with pytest.raises(ValueError, match="order must be an int >= 0, got -1"):
        calc.taylor_polynomial(torch.sin, 0.0, torch.zeros(3), order=-1)
    with pytest.raises(TypeError, match="order must be an int"):
        calc.taylor_polynomial(torch.sin, 0.0, torch.zeros(3), order=1.0)
    with pytest.raises(TypeError, match="floating-point tensor"):
        calc.taylor_polynomial(torch.sin, 0.0, torch.arange(3), order=1)


# ---------------------------------------------------------------- gradient descent


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 2, 5])
def test_gradient_descent_matches_naive_loop_and_torch_sgd(dtype, d):
    a = randn(d, d, dtype=dtype, seed=6)
    a = a @ a.T + torch.eye(d, dtype=dtype)  # symmetric positive definite
    f = lambda x: 0.5 * x @ a @ x  # noqa: E731
    x0 = randn(d, dtype=dtype, seed=7)
    lr, steps = 0.05, 6
    path = calc.gradient_descent(torch.func.grad(f), x0, lr=lr, steps=steps)
    assert path.shape == (steps + 1, d)
    assert path.dtype == dtype
    x = x0.clone()
    expected = [x.clone()]
    for _ in range(steps):
        x = x - lr * (a @ x)
        expected.append(x.clone())
    torch.testing.assert_close(path, torch.stack(expected), **tol(dtype))
    # torch.optim.SGD takes the same steps
    p = torch.nn.Parameter(x0.clone())
    opt = torch.optim.SGD([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
    torch.testing.assert_close(path[-1], p.detach(), **tol(dtype))


def test_gradient_descent_zero_steps_returns_start():
    x0 = torch.tensor([1.0, 2.0])
    path = calc.gradient_descent(lambda x: x, x0, lr=0.1, steps=0)
    torch.testing.assert_close(path, x0[None])


def test_gradient_descent_bad_input():
    g = lambda x: x  # noqa: E731
    x0 = torch.ones(2)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got"):
        calc.gradient_descent(g, x0, lr=0.0, steps=3)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got"):
        calc.gradient_descent(g, x0, lr=float("inf"), steps=3)
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        calc.gradient_descent(g, x0, lr="0.1", steps=3)
    with pytest.raises(ValueError, match="steps must be an int >= 0, got -1"):
        calc.gradient_descent(g, x0, lr=0.1, steps=-1)
    with pytest.raises(TypeError, match="steps must be an int"):
        calc.gradient_descent(g, x0, lr=0.1, steps=2.0)
    with pytest.raises(ValueError, match=r"x0 must be 1-D \(d,\), got shape \(2, 2\)"):
        calc.gradient_descent(g, torch.ones(2, 2), lr=0.1, steps=1)
    with pytest.raises(TypeError, match="x0 must be a floating-point tensor"):
        calc.gradient_descent(g, torch.ones(2, dtype=torch.int64), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="grad must return the shape of x0"):
        calc.gradient_descent(lambda x: x.sum(), x0, lr=0.1, steps=1)
    with pytest.raises(TypeError, match=r"grad must return a torch\.Tensor, got float"):
        calc.gradient_descent(lambda x: 1.0, x0, lr=0.1, steps=1)
