"""companion.foundations.matrix_calculus: closed-form gradients against torch.func.grad and
autograd."""

from __future__ import annotations

import pytest
import torch

from companion.foundations import matrix_calculus

DTYPES = [torch.float32, torch.float64]


def tols(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-11}
    )


def randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 3, 7])
def test_vector_gradients_match_torch_func_grad(dtype: torch.dtype, d: int) -> None:
    a, x, A = randn(d, dtype=dtype), randn(d, dtype=dtype, seed=1), randn(d, d, dtype=dtype, seed=2)
    torch.testing.assert_close(
        matrix_calculus.grad_dot(a, x),
        torch.func.grad(lambda t: a @ t)(x),
        **tols(dtype),
    )
    torch.testing.assert_close(
        matrix_calculus.grad_quadratic_form(A, x),
        torch.func.grad(lambda t: t @ A @ t)(x),
        **tols(dtype),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("m", "n"), [(3, 3), (6, 2), (2, 5)])
def test_least_squares_gradient_matches_torch_func_grad(dtype: torch.dtype, m: int, n: int) -> None:
    A, x, b = randn(m, n, dtype=dtype), randn(n, dtype=dtype, seed=1), randn(m, dtype=dtype, seed=2)
    expected = torch.func.grad(lambda t: ((A @ t - b) ** 2).sum())(x)
    torch.testing.assert_close(matrix_calculus.grad_least_squares(A, x, b), expected, **tols(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("m", "n"), [(3, 3), (4, 2), (2, 5)])
def test_trace_gradients_match_torch_func_grad(dtype: torch.dtype, m: int, n: int) -> None:
    A, X = randn(n, m, dtype=dtype), randn(m, n, dtype=dtype, seed=1)
    torch.testing.assert_close(
        matrix_calculus.grad_trace_linear(A, X),
        torch.func.grad(lambda T: torch.trace(A @ T))(X),
        **tols(dtype),
    )
    S = randn(m, m, dtype=dtype, seed=2)
    torch.testing.assert_close(
        matrix_calculus.grad_trace_quadratic(S, X),
        torch.func.grad(lambda T: torch.trace(T.mT @ S @ T))(X),
        **tols(dtype),
    )


def test_gradient_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"x must have shape \(3,\) to match a, got \(2,\)"):
        matrix_calculus.grad_dot(torch.ones(3), torch.ones(2))
    with pytest.raises(
        ValueError, match=r"A must have shape \(2, 2\) \(square, for xᵀAx\), got \(2, 3\)"
    ):
        matrix_calculus.grad_quadratic_form(torch.ones(2, 3), torch.ones(3))
    with pytest.raises(
        ValueError, match=r"b must have shape \(2,\) to match A \(2, 3\), got \(3,\)"
    ):
        matrix_calculus.grad_least_squares(torch.ones(2, 3), torch.ones(3), torch.ones(3))
    with pytest.raises(
        ValueError, match=r"X must have shape \(3, 2\) to match A \(2, 3\), got \(2, 3\)"
    ):
        matrix_calculus.grad_trace_linear(torch.ones(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"A must have shape \(3, 3\) \(square, for tr\(XᵀAX\)\)"):
        matrix_calculus.grad_trace_quadratic(torch.ones(3, 2), torch.ones(3, 2))
    with pytest.raises(
        ValueError, match=r"X must have shape \(3, 2\) \(rows to match A \(3, 3\)\), got \(2, 2\)"
    ):
        matrix_calculus.grad_trace_quadratic(torch.eye(3), torch.ones(2, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_grad_log_det_matches_autograd(dtype):
    g = torch.Generator().manual_seed(11)
    X = (torch.randn(4, 4, generator=g, dtype=torch.float64) + 3 * torch.eye(4)).to(dtype)
    tol = {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {}
    expected = torch.func.grad(lambda T: torch.linalg.slogdet(T)[1])(X)
    torch.testing.assert_close(matrix_calculus.grad_log_det(X), expected, **tol)
    # a covariance: the gradient of log det Σ is Σ⁻¹
    S = X @ X.mT + torch.eye(4, dtype=dtype)
    torch.testing.assert_close(matrix_calculus.grad_log_det(S), torch.linalg.inv(S), **tol)


def test_grad_log_det_with_a_negative_determinant():
    X = torch.tensor([[0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)  # det = -2
    expected = torch.func.grad(lambda T: torch.linalg.slogdet(T)[1])(X)
    torch.testing.assert_close(matrix_calculus.grad_log_det(X), expected)


def test_grad_inverse_bilinear_matches_autograd():
    g = torch.Generator().manual_seed(12)
    X = torch.randn(5, 5, generator=g, dtype=torch.float64) + 3 * torch.eye(5, dtype=torch.float64)
    a, b = (
        torch.randn(5, generator=g, dtype=torch.float64),
        torch.randn(5, generator=g, dtype=torch.float64),
    )
    expected = torch.func.grad(lambda T: a @ torch.linalg.inv(T) @ b)(X)
    torch.testing.assert_close(matrix_calculus.grad_inverse_bilinear(X, a, b), expected)


def test_inverse_and_log_det_gradient_errors():
    with pytest.raises(ValueError, match=r"X must have shape \(2, 2\) \(square\)"):
        matrix_calculus.grad_log_det(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        matrix_calculus.grad_inverse_bilinear(torch.eye(3), torch.ones(3), torch.ones(2))
