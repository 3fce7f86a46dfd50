"""companion.foundations.calculus: each function against its PyTorch twin (or a naive loop)."""

from __future__ import annotations

import math

import pytest
import torch

from companion.foundations import autodiff
from companion.foundations import calculus as calc
from companion.viz import plots

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


# ---------------------------------------------------------------- finite differences

# (function, its input shape); all smooth, scalar-valued
SCALAR_FUNCTIONS = [
    (lambda x: (x**3).sum() + torch.sin(x).prod(), (4,)),
    (lambda x: torch.logsumexp(x.reshape(-1), 0) * x[0, 0], (2, 3)),
    (lambda x: 0.5 * x @ torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=x.dtype) @ x, (2,)),
]


def fd_tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 2e-3, "atol": 2e-3} if dtype == torch.float32 else {"rtol": 1e-7, "atol": 1e-8}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("f", "shape"), SCALAR_FUNCTIONS)
def test_numerical_gradient_matches_autograd(dtype, f, shape):
    x = randn(*shape, dtype=dtype, seed=1)
    expected = torch.func.grad(f)(x)
    # torch.autograd agrees with torch.func
    xr = x.clone().requires_grad_(True)
    f(xr).backward()
    torch.testing.assert_close(xr.grad, expected)
    torch.testing.assert_close(autodiff.numerical_gradient(f, x), expected, **fd_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("in_shape", [(3,), (2, 2)])
def test_numerical_jacobian_matches_jacrev_and_jacfwd(dtype, in_shape):
    n = math.prod(in_shape)
    w = randn(5, n, dtype=dtype, seed=2)

    def f(x):  # in_shape -> (5, 1)
        return torch.tanh(w @ x.reshape(-1)).reshape(5, 1)

    x = randn(*in_shape, dtype=dtype, seed=3)
    jac = autodiff.numerical_jacobian(f, x)
    assert jac.shape == (5, 1, *in_shape)
    torch.testing.assert_close(jac, torch.func.jacrev(f)(x), **fd_tol(dtype))
    torch.testing.assert_close(jac, torch.func.jacfwd(f)(x), **fd_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numerical_jacobian_against_naive_loop(dtype):
    x = randn(3, dtype=dtype, seed=4)
    h = 1e-3

    def f(v):
        return torch.stack([v[0] * v[1], torch.exp(v[2]), v.sum()])

    expected = torch.zeros(3, 3, dtype=dtype)
    for i in range(3):
        for j in range(3):
            e = torch.zeros(3, dtype=dtype)
            e[j] = h
            expected[i, j] = (f(x + e)[i] - f(x - e)[i]) / (2 * h)
    torch.testing.assert_close(autodiff.numerical_jacobian(f, x, eps=h), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("f", "shape"), SCALAR_FUNCTIONS)
def test_numerical_hessian_matches_torch(dtype, f, shape):
    x = randn(*shape, dtype=dtype, seed=5)
    expected = torch.func.hessian(f)(x)
    torch.testing.assert_close(torch.autograd.functional.hessian(f, x), expected)
    tols = {"rtol": 2e-2, "atol": 2e-2} if dtype == torch.float32 else {"rtol": 1e-5, "atol": 1e-6}
    hess = autodiff.numerical_hessian(f, x)
    assert hess.shape == (*shape, *shape)
    torch.testing.assert_close(hess, expected, **tols)


def test_numerical_routines_keep_dtype_and_accept_autograd_inputs():
    x = randn(3, dtype=torch.float32).requires_grad_(True)
    g = autodiff.numerical_gradient(lambda v: (v**2).sum(), x)
    assert g.dtype == torch.float32
    assert not g.requires_grad
    # f may itself use autograd: the Hessian is the Jacobian of the gradient
    x64 = x.detach().double()
    f = SCALAR_FUNCTIONS[0][0]
    hess = autodiff.numerical_jacobian(torch.func.grad(f), x64)
    torch.testing.assert_close(hess, torch.func.hessian(f)(x64), rtol=1e-7, atol=1e-8)


def test_default_eps():
    assert autodiff.default_eps(torch.float64) == pytest.approx(
        torch.finfo(torch.float64).eps ** (1 / 3)
    )
    assert autodiff.default_eps(torch.float32, order=2) == pytest.approx(
        torch.finfo(torch.float32).eps ** 0.25
    )
    with pytest.raises(TypeError, match="floating-point dtype"):
        autodiff.default_eps(torch.int64)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        autodiff.default_eps(torch.float64, order=3)


@pytest.mark.parametrize(
    "fn", [autodiff.numerical_gradient, autodiff.numerical_jacobian, autodiff.numerical_hessian]
)
def test_numerical_routines_bad_input(fn):
    f = lambda v: (v**2).sum()  # noqa: E731
    with pytest.raises(TypeError, match=r"must be a torch\.Tensor"):
        fn(f, [1.0, 2.0])
    with pytest.raises(TypeError, match="floating-point tensor"):
        fn(f, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got"):
        fn(f, torch.ones(2), eps=0.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got"):
        fn(f, torch.ones(2), eps=-1e-3)
    with pytest.raises(TypeError, match="eps must be a number, got str"):
        fn(f, torch.ones(2), eps="small")
    with pytest.raises(TypeError, match=r"f must return a torch\.Tensor"):
        fn(lambda v: 1.0, torch.ones(2))


@pytest.mark.parametrize("fn", [autodiff.numerical_gradient, autodiff.numerical_hessian])
def test_gradient_routines_reject_non_scalar_functions(fn):
    with pytest.raises(ValueError, match="f must return a scalar"):
        fn(lambda v: v**2, torch.ones(3))


def test_relative_error():
    exact = torch.tensor([3.0, 4.0], dtype=torch.float64)
    assert (
        autodiff.relative_error(exact + torch.tensor([0.0, 0.5], dtype=torch.float64), exact) == 0.1
    )
    assert autodiff.relative_error(torch.zeros(2), torch.zeros(2)) == 0.0
    with pytest.raises(ValueError, match=r"approx must have the shape of exact \(3,\), got \(2,\)"):
        autodiff.relative_error(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="approx must be a floating-point tensor"):
        autodiff.relative_error(torch.zeros(2, dtype=torch.int64), torch.zeros(2))


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


# ---------------------------------------------------------------- plotting


def test_plot_contours_and_path():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    a = torch.tensor([[3.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    f = lambda p: 0.5 * ((p @ a) * p).sum(-1)  # noqa: E731
    out = plots.plot_contours(f, xlim=(-2, 2), ylim=(-1, 1), resolution=20, ax=ax)
    assert out is ax
    assert ax.get_xlim() == (-2.0, 2.0)
    path = calc.gradient_descent(
        torch.func.grad(f), torch.tensor([1.5, 0.8], dtype=torch.float64), lr=0.1, steps=5
    )
    plots.plot_path(path, ax=ax, label="lr=0.1")
    assert len(ax.lines) == 3  # path, start, end
    plots.plot_contours(f, xlim=(-2, 2), ylim=(-1, 1), resolution=5, ax=ax, filled=True)
    with pytest.raises(ValueError, match="resolution must be an int >= 2, got 1"):
        plots.plot_contours(f, xlim=(-2, 2), ylim=(-1, 1), resolution=1, ax=ax)
    with pytest.raises(ValueError, match=r"f must map \(N, 2\) points to \(N,\) values"):
        plots.plot_contours(lambda p: p, xlim=(-2, 2), ylim=(-1, 1), resolution=5, ax=ax)
    with pytest.raises(ValueError, match=r"path must have shape \(T, 2\)"):
        plots.plot_path(torch.zeros(3, 3), ax=ax)
    with pytest.raises(TypeError, match=r"path must be a torch\.Tensor"):
        plots.plot_path([[0.0, 0.0]], ax=ax)
    plt.close(fig)


def test_numerical_routines_on_zero_dim_inputs():
    x = torch.tensor(0.7, dtype=torch.float64)
    grad = autodiff.numerical_gradient(torch.sin, x)
    assert grad.shape == ()
    torch.testing.assert_close(grad, torch.cos(x), rtol=1e-9, atol=1e-10)
    assert autodiff.numerical_jacobian(lambda t: torch.stack([t, t**2]), x).shape == (2,)
    hess = autodiff.numerical_hessian(torch.sin, x)
    assert hess.shape == ()
    torch.testing.assert_close(hess, -torch.sin(x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("f", "shape"), SCALAR_FUNCTIONS)
def test_autograd_gradient_matches_torch_func(dtype, f, shape):
    x = randn(*shape, dtype=dtype, seed=8)
    grad = autodiff.autograd_gradient(f, x)
    assert not grad.requires_grad
    torch.testing.assert_close(grad, torch.func.grad(f)(x))
    with torch.no_grad():  # works inside no_grad too
        torch.testing.assert_close(autodiff.autograd_gradient(f, x), grad)


def test_autograd_gradient_of_constant_and_bad_input():
    x = torch.ones(3)
    torch.testing.assert_close(
        autodiff.autograd_gradient(lambda v: torch.tensor(2.0), x), torch.zeros(3)
    )
    torch.testing.assert_close(
        autodiff.autograd_gradient(lambda v: v[0] * 2, x), torch.tensor([2.0, 0, 0])
    )
    with pytest.raises(ValueError, match="f must return a scalar"):
        autodiff.autograd_gradient(lambda v: v * 2, x)
    with pytest.raises(TypeError, match="floating-point tensor"):
        autodiff.autograd_gradient(lambda v: v.sum(), torch.ones(3, dtype=torch.int64))
