"""Matrix calculus: the closed-form gradients of the cheat-sheet.

Each function returns ``∇`` of one expression by its formula; the tests compare it with
``torch.func.grad`` of the expression (and :func:`companion.foundations.autodiff.autograd_gradient`
computes any such gradient by autograd).

==============================  ===========================================
:func:`grad_dot`                ``∇_x (aᵀx) = a``
:func:`grad_quadratic_form`     ``∇_x (xᵀAx) = (A + Aᵀ) x``
:func:`grad_least_squares`      ``∇_x ‖Ax − b‖² = 2 Aᵀ (Ax − b)``
:func:`grad_trace_linear`       ``∇_X tr(AX) = Aᵀ``
:func:`grad_trace_quadratic`    ``∇_X tr(XᵀAX) = (A + Aᵀ) X``
:func:`grad_log_det`            ``∇_X log |det X| = X⁻ᵀ``
:func:`grad_inverse_bilinear`   ``∇_X aᵀX⁻¹b = −X⁻ᵀ a bᵀ X⁻ᵀ``
==============================  ===========================================
"""

from __future__ import annotations

import torch

from companion.checks import check_matrix, check_same_dtype, check_shape, check_vector
from companion.foundations.linalg import _matvec_inputs

__all__ = [
    "grad_dot",
    "grad_inverse_bilinear",
    "grad_least_squares",
    "grad_log_det",
    "grad_quadratic_form",
    "grad_trace_linear",
    "grad_trace_quadratic",
]


def grad_dot(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``∇_x (aᵀx) = a`` (``a``, ``x`` and the result are ``(d,)``)."""
    a = check_vector("a", a)
    x = check_vector("x", x)
    check_same_dtype("x", x, "a", a)
    check_shape("x", x, tuple(a.shape), "to match a")
    return a.clone()


def grad_quadratic_form(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``∇_x (xᵀ A x) = (A + Aᵀ) x`` for ``A`` ``(d, d)``, ``x`` ``(d,)``; ``2Ax`` if symmetric."""
    A = check_matrix("A", A, "(m, n)")
    check_shape("A", A, (A.shape[0], A.shape[0]), "(square, for xᵀAx)")
    A, x = _matvec_inputs(A, x)
    return (A + A.mT) @ x


def grad_least_squares(A: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``∇_x ‖A x − b‖² = 2 Aᵀ (A x − b)`` for ``A`` ``(m, n)``, ``x`` ``(n,)``, ``b`` ``(m,)``."""
    A, x = _matvec_inputs(A, x)
    b = check_vector("b", b)
    check_same_dtype("b", b, "A", A)
    check_shape("b", b, (A.shape[0],), f"to match A {tuple(A.shape)}")
    return 2 * A.mT @ (A @ x - b)


def grad_trace_linear(A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``∇_X tr(A X) = Aᵀ`` for ``A`` ``(n, m)``, ``X`` ``(m, n)``; the result is ``(m, n)``."""
    A = check_matrix("A", A, "(m, n)")
    X = check_matrix("X", X, "(m, n)")
    check_same_dtype("X", X, "A", A)
    check_shape("X", X, (A.shape[1], A.shape[0]), f"to match A {tuple(A.shape)}")
    return A.mT.clone()


def grad_trace_quadratic(A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``∇_X tr(Xᵀ A X) = (A + Aᵀ) X`` for ``A`` ``(m, m)``, ``X`` ``(m, n)``."""
    A = check_matrix("A", A, "(m, n)")
    X = check_matrix("X", X, "(m, n)")
    check_same_dtype("X", X, "A", A)
    check_shape("A", A, (A.shape[0], A.shape[0]), "(square, for tr(XᵀAX))")
    check_shape("X", X, (A.shape[0], X.shape[1]), f"(rows to match A {tuple(A.shape)})")
    return (A + A.mT) @ X


def _invertible(X: torch.Tensor) -> torch.Tensor:
    X = check_matrix("X", X, "(n, n)")
    check_shape("X", X, (X.shape[0], X.shape[0]), "(square)")
    return X


def grad_log_det(X: torch.Tensor) -> torch.Tensor:
    """``∇_X log |det X| = X⁻ᵀ`` for an invertible ``X`` ``(n, n)``; the result is ``(n, n)``.

    Expanding ``det X`` along row ``i`` gives ``∂ det X/∂X_ij = C_ij``, the cofactor, and
    ``C = det(X) X⁻ᵀ``; dividing by ``det X`` (the chain rule for the log) leaves ``X⁻ᵀ``.
    For a symmetric positive definite ``Σ`` (a covariance), ``∇ log det Σ = Σ⁻¹``.
    """
    return torch.linalg.inv(_invertible(X)).mT


def grad_inverse_bilinear(X: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``∇_X aᵀ X⁻¹ b = −X⁻ᵀ a bᵀ X⁻ᵀ`` for ``X`` ``(n, n)`` invertible, ``a``, ``b`` ``(n,)``.

    From ``X X⁻¹ = I``: ``dX X⁻¹ + X d(X⁻¹) = 0``, so ``d(X⁻¹) = −X⁻¹ dX X⁻¹`` and
    ``d(aᵀX⁻¹b) = −(X⁻ᵀa)ᵀ dX (X⁻¹b) = ⟨−X⁻ᵀ a (X⁻¹ b)ᵀ, dX⟩_F``.
    """
    X = _invertible(X)
    a, b = check_vector("a", a), check_vector("b", b)
    for name, v in (("a", a), ("b", b)):
        check_same_dtype(name, v, "X", X)
        check_shape(name, v, (X.shape[0],), f"to match X {tuple(X.shape)}")
    X_inv = torch.linalg.inv(X)
    return -torch.outer(X_inv.mT @ a, X_inv @ b)  # (n, n)
