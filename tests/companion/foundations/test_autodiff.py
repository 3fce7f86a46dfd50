"""companion.foundations.autodiff: finite differences and autograd gradients against torch.func."""

from __future__ import annotations

import math

import pytest
import torch

from companion.foundations import autodiff

# Forward-mode AD (jacfwd, torch.func.hessian) loads decompositions through torch.jit.script,
# which warns on this torch version: not our code.
JIT_SCRIPT_WARNING = pytest.mark.filterwarnings("ignore:.*torch.jit.script.*:DeprecationWarning")

DTYPES = [torch.float32, torch.float64]


def randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------- finite differences

# (function, its input shape); all smooth, scalar-valued
SCALAR_FUNCTIONS = [
    (lambda x: (x**3).sum() + torch.sin(x).prod(), (4,)),
    (lambda x: torch.logsumexp(x.reshape(-1), 0) * x[0, 0], (2, 3)),
    (lambda x: 0.5 * x @ torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=x.dtype) @ x, (2,)),
]


def fd_tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 2e-3, "atol": 2e-3} if dtype == torch.float32 else {"rtol": 1e-7, "atol": 1e-8}


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
def test_default_eps():
    assert autodiff.default_eps(torch.float64) == pytest.approx(
        torch.finfo(torch.float64).eps ** (1 / 3)
    )
    assert autodiff.default_eps(torch.float32, order=2) == pytest.approx(
        torch.finfo(torch.float32).eps ** 0.25
    )
    with pytest.raises(TypeError, match="floating-point dtype"):
        autodiff.default_eps(torch.int64)
    with pytest.raises(ValueError, match="order must be one of 1, 2, got 3"):
        autodiff.default_eps(torch.float64, order=3)


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
@pytest.mark.parametrize("fn", [autodiff.numerical_gradient, autodiff.numerical_hessian])
def test_gradient_routines_reject_non_scalar_functions(fn):
    with pytest.raises(ValueError, match="f must return a scalar"):
        fn(lambda v: v**2, torch.ones(3))


@JIT_SCRIPT_WARNING
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


@JIT_SCRIPT_WARNING
def test_numerical_routines_on_zero_dim_inputs():
    x = torch.tensor(0.7, dtype=torch.float64)
    grad = autodiff.numerical_gradient(torch.sin, x)
    assert grad.shape == ()
    torch.testing.assert_close(grad, torch.cos(x), rtol=1e-9, atol=1e-10)
    assert autodiff.numerical_jacobian(lambda t: torch.stack([t, t**2]), x).shape == (2,)
    hess = autodiff.numerical_hessian(torch.sin, x)
    assert hess.shape == ()
    torch.testing.assert_close(hess, -torch.sin(x), rtol=1e-6, atol=1e-7)


@JIT_SCRIPT_WARNING
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("f", "shape"), SCALAR_FUNCTIONS)
def test_autograd_gradient_matches_torch_func(dtype, f, shape):
    x = randn(*shape, dtype=dtype, seed=8)
    grad = autodiff.autograd_gradient(f, x)
    assert not grad.requires_grad
    torch.testing.assert_close(grad, torch.func.grad(f)(x))
    with torch.no_grad():  # works inside no_grad too
        torch.testing.assert_close(autodiff.autograd_gradient(f, x), grad)


@JIT_SCRIPT_WARNING
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


# ------------------------------------------------------------------------------ matrix calculus
# The closed forms against torch.func.grad of the expression: a reference the package
# does not provide.
def test_autograd_gradient_matches_the_calculus() -> None:
    x = randn(3, 4)
    f = lambda t: (t.sin() * t).sum()  # noqa: E731
    expected = x.sin() + x * x.cos()  # d/dt (t sin t)
    torch.testing.assert_close(autodiff.autograd_gradient(f, x), expected)
    torch.testing.assert_close(autodiff.autograd_gradient(lambda t: (t**2).sum(), x), 2 * x)
    assert not x.requires_grad  # the input is left alone


def test_autograd_gradient_needs_a_scalar_function() -> None:
    with pytest.raises(
        ValueError, match=r"f must return a scalar \(one element\), got shape \(3,\)"
    ):
        autodiff.autograd_gradient(lambda t: 2 * t, torch.ones(3))
    with pytest.raises(TypeError, match=r"f must return a torch.Tensor, got float"):
        autodiff.autograd_gradient(lambda t: 1.0, torch.ones(3))  # type: ignore[arg-type, return-value]
