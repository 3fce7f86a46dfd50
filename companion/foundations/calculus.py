"""Calculus for deep learning: a stable softmax, finite differences, gradient descent.

The functions follow the calculus cheat-sheet (``book/foundations/calculus.ipynb``):

============================  ==================================================
:func:`softmax`               ``exp(x - max) / sum exp(x - max)``, never overflows
:func:`log_softmax`           ``x - logsumexp(x)``
:func:`logsumexp`             ``m + log sum exp(x - m)`` with ``m = max x``
:func:`naive_softmax`         ``exp(x) / sum exp(x)``: overflows for ``x`` ≳ 89 (float32)
:func:`softmax_jacobian`      ``diag(s) - s sᵀ`` with ``s = softmax(x)``
:func:`autograd_gradient`     ``∇f(x)`` by one reverse-mode (backward) pass
:func:`numerical_gradient`    central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h``
:func:`numerical_jacobian`    the same, one column per input entry
:func:`numerical_hessian`     four-point second differences
:func:`taylor_polynomial`     ``sum_k f⁽ᵏ⁾(a) (x - a)ᵏ / k!`` with autograd derivatives
:func:`gradient_descent`      the path ``x_{t+1} = x_t - lr ∇f(x_t)``
============================  ==================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from companion.checks import check_floating

__all__ = [
    "autograd_gradient",
    "default_eps",
    "gradient_descent",
    "log_softmax",
    "logsumexp",
    "naive_softmax",
    "numerical_gradient",
    "numerical_hessian",
    "numerical_jacobian",
    "relative_error",
    "softmax",
    "softmax_jacobian",
    "taylor_polynomial",
]


def _check_dim(x: Tensor, dim: int) -> None:
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
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


# ---------------------------------------------------------------------- derivatives


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
        out = _evaluate_scalar(f, leaf)
        if not out.requires_grad:  # f does not depend on x
            return torch.zeros_like(leaf).detach()
        (grad,) = torch.autograd.grad(out, leaf, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad.detach()


# ---------------------------------------------------------------------- finite differences


def default_eps(dtype: torch.dtype, order: int = 1) -> float:
    """A good central-difference step for ``dtype``: ``machine_eps ** (1 / (order + 2))``.

    The truncation error of a central difference shrinks like ``h²`` while rounding error
    grows like ``machine_eps / hᵒʳᵈᵉʳ``; the sum is smallest near this ``h``
    (about 6e-6 in float64 and 5e-3 in float32 for first derivatives, ``order=1``;
    about 1e-4 and 2e-2 for second derivatives, ``order=2``).
    """
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    return float(torch.finfo(dtype).eps ** (1.0 / (order + 2)))


def _check_eps(eps: float | None, dtype: torch.dtype, order: int = 1) -> float:
    if eps is None:
        return default_eps(dtype, order)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool):
        raise TypeError(f"eps must be a float or None, got {type(eps).__name__}")
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a positive finite number, got {eps}")
    return float(eps)


def _evaluate(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    out = f(x)
    if not isinstance(out, Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(out).__name__}")
    return out


def _evaluate_scalar(f: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    out = _evaluate(f, x)
    if out.numel() != 1:
        raise ValueError(
            f"f must return a scalar (a tensor with one element), got shape {tuple(out.shape)};"
            " use numerical_jacobian for vector-valued functions"
        )
    return out.reshape(())


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
    out_shape = _evaluate(f, x.detach()).shape
    x_flat = x.detach().reshape(-1).clone()  # (n,)
    columns = []
    for i in range(x_flat.numel()):
        step = torch.zeros_like(x_flat)
        step[i] = h
        plus = _evaluate(f, (x_flat + step).reshape(x.shape)).detach()
        minus = _evaluate(f, (x_flat - step).reshape(x.shape)).detach()
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
    _evaluate_scalar(f, x.detach())
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
    _evaluate_scalar(f, x.detach())
    x_flat = x.detach().reshape(-1).clone()  # (n,)
    n = x_flat.numel()
    basis = torch.eye(n, dtype=x.dtype, device=x.device) * h  # (n, n), row i is h e_i

    def at(step: Tensor) -> Tensor:
        return _evaluate_scalar(f, (x_flat + step).reshape(x.shape)).detach()

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
    if approx.shape != exact.shape:
        raise ValueError(
            f"approx and exact must have the same shape, got {tuple(approx.shape)}"
            f" and {tuple(exact.shape)}"
        )
    diff = torch.linalg.vector_norm((approx - exact).to(torch.float64))
    scale = torch.linalg.vector_norm(exact.to(torch.float64)).clamp_min(1e-300)
    return float(diff / scale)


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
    if not isinstance(order, int) or isinstance(order, bool):
        raise TypeError(f"order must be an int, got {type(order).__name__}")
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    point = torch.tensor(float(a), dtype=x.dtype, device=x.device, requires_grad=True)
    value = _evaluate_scalar(f, point)
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
    if x0.ndim != 1:
        raise ValueError(f"x0 must be a 1-D tensor (d,), got shape {tuple(x0.shape)}")
    if not isinstance(lr, (int, float)) or isinstance(lr, bool):
        raise TypeError(f"lr must be a float, got {type(lr).__name__}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive finite number, got {lr}")
    if not isinstance(steps, int) or isinstance(steps, bool):
        raise TypeError(f"steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    path = [x0.detach().clone()]
    for _ in range(steps):
        g = _evaluate(grad, path[-1])
        if g.shape != x0.shape:
            raise ValueError(
                f"grad must return the shape of x0 {tuple(x0.shape)}, got {tuple(g.shape)}"
            )
        path.append((path[-1] - lr * g).detach())
    return torch.stack(path)  # (steps + 1, d)
