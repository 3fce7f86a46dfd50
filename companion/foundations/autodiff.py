"""Derivatives two ways: by reverse-mode autograd, and by central finite differences.

==============================  ==============================================================
:func:`autograd_gradient`       ``∇f(x)`` by one backward pass (the same as ``torch.func.grad``)
:func:`numerical_gradient`      central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h``
:func:`numerical_jacobian`      the same, one column per input entry
:func:`numerical_hessian`       four-point second differences
:func:`default_eps`             the step ``h`` that balances truncation and rounding
:func:`relative_error`          ``‖approx - exact‖ / ‖exact‖``, to compare the two
==============================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from companion.checks import (
    check_choice,
    check_floating,
    check_number,
    check_output,
    check_same_shape,
)

__all__ = [
    "autograd_gradient",
    "default_eps",
    "numerical_gradient",
    "numerical_hessian",
    "numerical_jacobian",
    "relative_error",
]


def autograd_gradient(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``∇f(x)`` of a scalar function by reverse-mode autograd (``torch.autograd.grad``).

    One forward pass records the graph, one backward pass returns every partial
    derivative, whatever the number of inputs. Same result as ``torch.func.grad(f)(x)``.

    Args:
        f: a scalar-valued function of one tensor, written with torch operations.
        x: the point, a floating tensor of any shape (not modified).

    Returns:
        A tensor of ``x``'s shape, detached (zeros where ``f`` does not depend on ``x``).
    """
    check_floating("x", x)
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        out = check_output("f", f(leaf), scalar=True)
        if not out.requires_grad:  # f does not depend on x
            return torch.zeros_like(leaf).detach()
        (grad,) = torch.autograd.grad(out, leaf, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad.detach()


def default_eps(dtype: torch.dtype, order: int = 1) -> float:
    """A good central-difference step for ``dtype``: ``machine_eps ** (1 / (order + 2))``.

    The truncation error of a central difference shrinks like ``h²`` while rounding error
    grows like ``machine_eps / hᵒʳᵈᵉʳ``; the sum is smallest near this ``h``
    (about 6e-6 in float64 and 5e-3 in float32 for first derivatives, ``order=1``;
    about 1e-4 and 2e-2 for second derivatives, ``order=2``).
    """
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    check_choice("order", order, (1, 2))
    return float(torch.finfo(dtype).eps ** (1.0 / (order + 2)))


def _check_eps(eps: float | None, dtype: torch.dtype, order: int = 1) -> float:
    if eps is None:
        return default_eps(dtype, order)
    return check_number("eps", eps, low=0, low_open=True)


def numerical_jacobian(
    f: Callable[[Tensor], Tensor], x: Tensor, *, eps: float | None = None
) -> Tensor:
    """Central-difference Jacobian ``J[..., i] = (f(x + h e_i) - f(x - h e_i)) / 2h``.

    Costs ``2 n`` calls of ``f`` for ``n = x.numel()`` inputs, with an error of order
    ``h²`` (plus rounding): compute in float64 when comparing against autograd.

    Args:
        f: a function of one tensor, returning a tensor of any shape.
        x: the point, a floating tensor of any shape.
        eps: the step ``h``; ``None`` picks :func:`default_eps` for ``x.dtype``.

    Returns:
        ``f(x).shape + x.shape``, the layout of ``torch.func.jacrev(f)(x)``.
    """
    check_floating("x", x)
    h = _check_eps(eps, x.dtype)
    out_shape = check_output("f", f(x.detach())).shape
    x_flat = x.detach().reshape(-1).clone()  # (n,)
    columns = []
    for i in range(x_flat.numel()):
        step = torch.zeros_like(x_flat)
        step[i] = h
        plus = check_output("f", f((x_flat + step).reshape(x.shape))).detach()
        minus = check_output("f", f((x_flat - step).reshape(x.shape))).detach()
        columns.append(((plus - minus) / (2 * h)).reshape(-1))  # (m,)
    jac = torch.stack(columns, dim=-1)  # (m, n)
    return jac.reshape((*out_shape, *x.shape))


def numerical_gradient(
    f: Callable[[Tensor], Tensor], x: Tensor, *, eps: float | None = None
) -> Tensor:
    """Central-difference gradient ``∂f/∂x_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h``.

    Args:
        f: a scalar-valued function of one tensor (it must return one element).
        x: the point, a floating tensor of any shape.
        eps: the step ``h``; ``None`` picks :func:`default_eps` for ``x.dtype``.

    Returns:
        A tensor of ``x``'s shape, like ``torch.func.grad(f)(x)``.

    Raises:
        ValueError: if ``f(x)`` has more than one element, or ``eps <= 0``.
    """
    check_floating("x", x)
    _check_eps(eps, x.dtype)
    check_output("f", f(x.detach()), scalar=True)
    return numerical_jacobian(f, x, eps=eps).reshape(x.shape)


def numerical_hessian(
    f: Callable[[Tensor], Tensor], x: Tensor, *, eps: float | None = None
) -> Tensor:
    """Hessian of a scalar ``f`` by four-point central second differences.

    ``H_ij ≈ [f(x+he_i+he_j) - f(x+he_i-he_j) - f(x-he_i+he_j) + f(x-he_i-he_j)] / 4h²``,
    which for ``i = j`` is ``[f(x+2he_i) - 2f(x) + f(x-2he_i)] / 4h²``.

    Args:
        f: a scalar-valued function of one tensor.
        x: the point, a floating tensor of any shape (``n`` entries in all).
        eps: the step ``h``; ``None`` picks ``default_eps(x.dtype, order=2)``.

    Returns:
        ``x.shape + x.shape`` (symmetric), the layout of ``torch.func.hessian(f)(x)``.
    """
    check_floating("x", x)
    h = _check_eps(eps, x.dtype, order=2)
    check_output("f", f(x.detach()), scalar=True)
    x_flat = x.detach().reshape(-1).clone()  # (n,)
    n = x_flat.numel()
    basis = torch.eye(n, dtype=x.dtype, device=x.device) * h  # (n, n), row i is h e_i

    def at(step: Tensor) -> Tensor:
        return check_output("f", f((x_flat + step).reshape(x.shape)), scalar=True).detach()

    hess = torch.empty(n, n, dtype=x.dtype, device=x.device)
    for i in range(n):
        for j in range(i, n):
            ei, ej = basis[i], basis[j]
            value = at(ei + ej) - at(ei - ej) - at(ej - ei) + at(-ei - ej)
            hess[i, j] = hess[j, i] = value / (4 * h * h)
    return hess.reshape((*x.shape, *x.shape))


def relative_error(approx: Tensor, exact: Tensor) -> float:
    """``‖approx - exact‖ / max(‖exact‖, tiny)`` (Frobenius norms), as a Python float.

    Raises:
        ValueError: if the shapes differ.
    """
    check_floating("approx", approx)
    check_floating("exact", exact)
    check_same_shape("approx", approx, "exact", exact)
    diff = torch.linalg.vector_norm((approx - exact).to(torch.float64))
    scale = torch.linalg.vector_norm(exact.to(torch.float64)).clamp_min(1e-300)
    return float(diff / scale)
