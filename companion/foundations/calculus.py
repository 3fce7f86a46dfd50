"""Calculus for deep learning: a stable softmax, Taylor polynomials, gradient descent.

Derivatives by autograd and by finite differences are in
:mod:`companion.foundations.autodiff`.

The functions follow the calculus cheat-sheet (``book/foundations/calculus.ipynb``):

============================  ==================================================
:func:`softmax`               ``exp(x - max) / sum exp(x - max)``, never overflows
:func:`log_softmax`           ``x - logsumexp(x)``
:func:`logsumexp`             ``m + log sum exp(x - m)`` with ``m = max x``
:func:`naive_softmax`         ``exp(x) / sum exp(x)``: overflows for ``x`` ≳ 89 (float32)
:func:`softmax_jacobian`      ``diag(s) - s sᵀ`` with ``s = softmax(x)``
:func:`taylor_polynomial`     ``sum_k f⁽ᵏ⁾(a) (x - a)ᵏ / k!`` with autograd derivatives
:func:`gradient_descent`      the path ``x_{t+1} = x_t - lr ∇f(x_t)``
============================  ==================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from companion.checks import (
    check_floating,
    check_int,
    check_ndim,
    check_number,
    check_output,
)

__all__ = [
    "gradient_descent",
    "log_softmax",
    "logsumexp",
    "naive_softmax",
    "softmax",
    "softmax_jacobian",
    "taylor_polynomial",
]


def _check_dim(x: Tensor, dim: int) -> None:
    check_int("dim", dim)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a 0-d tensor")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim must be in [{-x.ndim}, {x.ndim}) for a {x.ndim}-d tensor, got {dim}")


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """``log(sum_i exp(x_i))`` along ``dim``, computed without overflow.

    With ``m = max_i x_i``: ``logsumexp(x) = m + log(sum_i exp(x_i - m))``; every
    exponent is ``<= 0``, so no ``exp`` overflows, and the largest term is ``exp(0) = 1``,
    so the ``log`` never sees 0. A slice that is entirely ``-inf`` gives ``-inf``
    (as ``torch.logsumexp`` does).

    Args:
        x: floating tensor of any shape with at least one dimension.
        dim: the dimension to reduce.
        keepdim: keep ``dim`` with size 1 in the result.

    Returns:
        ``x``'s shape without ``dim`` (or with size 1 there when ``keepdim``).
    """
    check_floating("x", x)
    _check_dim(x, dim)
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # an all -inf slice stays -inf
    out = m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
    return out if keepdim else out.squeeze(dim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)`` along ``dim``, ``m = max_j x_j``.

    Subtracting the maximum changes nothing mathematically (it cancels between numerator
    and denominator) but keeps every exponent ``<= 0``, so large inputs cannot overflow.

    Args:
        x: floating tensor of any shape with at least one dimension.
        dim: the dimension along which the result sums to 1.

    Returns:
        A tensor of ``x``'s shape, positive, summing to 1 along ``dim``.
    """
    check_floating("x", x)
    _check_dim(x, dim)
    z = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return z / z.sum(dim=dim, keepdim=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``log softmax(x)_i = x_i - logsumexp(x)`` along ``dim``; finite even where softmax is 0.

    Returns:
        A tensor of ``x``'s shape whose ``exp`` sums to 1 along ``dim``.
    """
    check_floating("x", x)
    _check_dim(x, dim)
    return x - logsumexp(x, dim=dim, keepdim=True)


def naive_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """The textbook ``exp(x_i) / sum_j exp(x_j)``, *without* the max trick.

    For teaching only: ``exp`` overflows to ``inf`` above about 88.7 in float32 (709.8 in
    float64), and ``inf / inf`` is ``nan``. Use :func:`softmax`.

    Returns:
        A tensor of ``x``'s shape (``nan`` where an ``exp`` overflowed).
    """
    check_floating("x", x)
    _check_dim(x, dim)
    z = torch.exp(x)
    return z / z.sum(dim=dim, keepdim=True)


def softmax_jacobian(x: Tensor) -> Tensor:
    """Jacobian of :func:`softmax` over the last dimension, in closed form.

    With ``s = softmax(x)``: ``∂s_i/∂x_j = s_i (δ_ij - s_j)``, i.e. ``J = diag(s) - s sᵀ``.
    ``J`` is symmetric, and its rows sum to 0 (adding a constant to every logit changes
    nothing).

    Args:
        x: logits of shape ``(..., n)``.

    Returns:
        ``(..., n, n)``; entry ``[..., i, j]`` is ``∂softmax(x)_i / ∂x_j``.
    """
    check_floating("x", x)
    _check_dim(x, -1)
    s = softmax(x, dim=-1)  # (..., n)
    return torch.diag_embed(s) - s.unsqueeze(-1) * s.unsqueeze(-2)  # (..., n, n)


# ---------------------------------------------------------------------- Taylor


def taylor_polynomial(f: Callable[[Tensor], Tensor], a: float, x: Tensor, *, order: int) -> Tensor:
    """The Taylor polynomial of a scalar function of one variable, evaluated at ``x``.

    ``T_K(x) = sum_{k=0}^{K} f⁽ᵏ⁾(a) (x - a)ᵏ / k!``, with the derivatives ``f⁽ᵏ⁾(a)``
    taken by repeated autograd (``f`` must be written with torch operations).

    Args:
        f: an elementwise function of a tensor (e.g. ``torch.sin``).
        a: the expansion point.
        x: where to evaluate the polynomial, a floating tensor of any shape.
        order: ``K >= 0``.

    Returns:
        A tensor of ``x``'s shape.
    """
    check_floating("x", x)
    check_int("order", order, low=0)
    point = torch.tensor(float(a), dtype=x.dtype, device=x.device, requires_grad=True)
    value = check_output("f", f(point), scalar=True)
    derivatives = [value.detach()]
    for _ in range(order):
        if not value.requires_grad:  # f is a polynomial of lower degree: the rest is 0
            derivatives.append(torch.zeros_like(derivatives[0]))
            continue
        (value,) = torch.autograd.grad(value, point, create_graph=True)
        derivatives.append(value.detach())
    dx = x - float(a)
    return sum(d * dx**k / math.factorial(k) for k, d in enumerate(derivatives))


# ---------------------------------------------------------------------- gradient descent


def gradient_descent(
    grad: Callable[[Tensor], Tensor], x0: Tensor, *, lr: float, steps: int
) -> Tensor:
    """Run ``x_{t+1} = x_t - lr · grad(x_t)`` and record every iterate.

    Pass ``torch.func.grad(f)`` as ``grad`` to descend a scalar function ``f`` by autograd.

    Args:
        grad: the gradient field, mapping a ``(d,)`` tensor to a ``(d,)`` tensor.
        x0: the start, a floating ``(d,)`` tensor.
        lr: the learning rate (step size), ``> 0``.
        steps: the number of updates, ``>= 0``.

    Returns:
        The path, ``(steps + 1, d)``: row 0 is ``x0``, row ``t`` is ``x_t``.
    """
    check_floating("x0", x0)
    check_ndim("x0", x0, 1, "(d,)")
    lr = check_number("lr", lr, low=0, low_open=True)
    check_int("steps", steps, low=0)
    path = [x0.detach().clone()]
    for _ in range(steps):
        g = check_output("grad", grad(path[-1]))
        if g.shape != x0.shape:
            raise ValueError(
                f"grad must return the shape of x0 {tuple(x0.shape)}, got {tuple(g.shape)}"
            )
        path.append((path[-1] - lr * g).detach())
    return torch.stack(path)  # (steps + 1, d)
