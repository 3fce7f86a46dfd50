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
==============================  ===========================================
"""

from __future__ import annotations

import torch

from companion.checks import check_matrix, check_same_dtype, check_shape, check_vector
from companion.foundations.linalg import _matvec_inputs

__all__ = [
    "grad_dot",
    "grad_least_squares",
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
    if X.shape[0] != A.shape[0]:
        raise ValueError(
            f"X must have {A.shape[0]} rows to match A {tuple(A.shape)}, got {tuple(X.shape)}"
        )
    return (A + A.mT) @ X
